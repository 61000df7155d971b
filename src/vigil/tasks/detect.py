"""Object detection: any YOLO (darknet-converted, v5, v8/11 layouts) or Coral-layout SSD model."""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vigil.config.settings import VigilConfig
from vigil.config.tasks import ModelThresholds
from vigil.errors import BadInput
from vigil.formats import native
from vigil.imaging.images import DecodedImage
from vigil.ops import yolo
from vigil.ops.letterbox import Letterbox, fitted_size, letterbox, stretch
from vigil.ops.nms import nms
from vigil.ops.ssd import decode_ssd_coral, order_ssd_outputs
from vigil.ops.tensor import to_tensor
from vigil.registry.darknet import HEADS_KEY
from vigil.registry.labels import PERSON
from vigil.registry.specs import ModelSpec
from vigil.registry.store import ModelStore
from vigil.results import CLASS_NAME, Detections
from vigil.runtimes.session import Session, open_session
from vigil.tasks.base import TaskContext, TaskDef
from vigil.tasks.presence import PresenceGate, run_gated
from vigil.tasks.second_look import NO_LOOK, FrameLook, LookPlan, look_again

log = logging.getLogger(__name__)
STRIDE = 32  # YOLO grids need input sides that are multiples of this


@dataclass(frozen=True)
class DetectOptions:
    min_score: float = 0.25
    iou: float = 0.45
    max_detections: int = 300


class ObjectDetector:
    """A detection model with its session. `input_size` overrides the spec's square input; with
    `rect`, the short side shrinks to the frame's aspect (a multiple of 32), saving work on 16:9."""

    def __init__(self, spec: ModelSpec, session: Session, labels: tuple[str, ...],
                 input_size: int | None = None, rect: bool = True) -> None:
        self.spec, self.session, self.labels = spec, session, labels
        self.input_size = input_size or max(spec.input.width, spec.input.height)
        self.fixed_shape = spec.decoder in ("ssd_coral",) or not self._dynamic_input()
        self.rect = rect and not self.fixed_shape
        self.heads = json.loads(session.metadata.get(HEADS_KEY, "[]"))
        if spec.decoder == "darknet_yolo" and not self.heads:
            raise ValueError(f"{spec.name}: ONNX file lacks {HEADS_KEY} metadata; re-run `vigil models pull`")

    @classmethod
    def load(cls, store: ModelStore, name: str, input_size: int | None = None, rect: bool = True,
             threads: int | None = None, precision: str = "fp32", opener=open_session) -> ObjectDetector:
        spec = store.spec(name)
        session = opener(store.path(name, spec.runtime_role(precision)), spec.runtime, threads)
        detector = cls(spec, session, store.labels(name), input_size, rect)
        detector.warmup()
        return detector

    def _dynamic_input(self) -> bool:
        shape = list(getattr(self.session, "input_shape", None) or [])
        spatial = shape[1:3] if self.spec.input.layout == "NHWC" else shape[2:4]
        return len(shape) == 4 and not all(isinstance(d, int) for d in spatial)

    def network_size(self, width: int, height: int, side: int | None = None) -> tuple[int, int]:
        """(w, h) of the network input for a frame of this size; `side` overrides the configured long side."""
        if self.fixed_shape:
            return self.spec.input.width, self.spec.input.height
        side = side or self.input_size
        if not self.rect:
            return side, side
        fit_w, fit_h = fitted_size(width, height, side, side)
        return _round_up(fit_w), _round_up(fit_h)

    def preprocess(self, image: np.ndarray, side: int | None = None) -> tuple[np.ndarray, Letterbox]:
        net_w, net_h = self.network_size(image.shape[1], image.shape[0], side)
        if self.spec.input.resize == "stretch":
            canvas, (sx, sy) = stretch(image, net_w, net_h)
            box = Letterbox(sx, sy, 0, 0, image.shape[1], image.shape[0])
        else:
            canvas, box = letterbox(image, net_w, net_h, self.spec.input.pad_value)
        return to_tensor(canvas, self.spec.input), box

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        return self.session.run([tensor])

    def postprocess(self, outputs: list[np.ndarray], box: Letterbox, net_w: int, net_h: int,
                    options: DetectOptions) -> Detections:
        found = self._decode(outputs, net_w, net_h, options.min_score)
        keep = nms(found.xyxy, found.score, found.class_id, options.iou)[: options.max_detections]
        return Detections(box.boxes_to_source(found.xyxy[keep]), found.score[keep], found.class_id[keep]).with_names(
            self.labels)

    def _decode(self, outputs: list[np.ndarray], net_w: int, net_h: int, min_score: float) -> yolo.Candidates:
        decoder = self.spec.decoder
        if decoder == "darknet_yolo":
            return yolo.decode_darknet(outputs, self.heads, net_w, net_h, min_score)
        if decoder == "yolov5":
            return yolo.decode_yolov5(outputs[0], min_score)
        if decoder == "yolov8":
            return yolo.decode_yolov8(outputs[0], min_score)
        if decoder == "ssd_coral":
            return decode_ssd_coral(order_ssd_outputs(outputs), net_w, net_h, min_score)
        raise ValueError(f"{self.spec.name}: no decoder {decoder!r} for detection")

    def __call__(self, image: np.ndarray, options: DetectOptions = DetectOptions()) -> Detections:
        """Detect in an RGB uint8 image; boxes come back in that image's pixels."""
        tensor, box = self.preprocess(image)
        return self.run_batch([tensor], [box], [options])[0]

    @property
    def batchable(self) -> bool:
        """True when the model's batch axis is dynamic, so several inputs can share one session run."""
        shape = list(getattr(self.session, "input_shape", None) or [])
        return bool(shape) and not isinstance(shape[0], int)

    def run_batch(self, tensors: Sequence[np.ndarray], boxes: Sequence[Letterbox],
                  options: Sequence[DetectOptions]) -> list[Detections]:
        """Detect in preprocessed inputs. Inputs of one shape share one session run along the batch axis,
        which costs less per image than separate runs (fewer thread hand-offs, larger kernels)."""
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, tensor in enumerate(tensors):
            key = tensor.shape if self.batchable else (i,)
            groups.setdefault(key, []).append(i)
        results: list[Detections] = [Detections.empty()] * len(tensors)
        for members in groups.values():
            stacked = np.concatenate([tensors[i] for i in members])
            net_h, net_w = stacked.shape[1:3] if self.spec.input.layout == "NHWC" else stacked.shape[2:4]
            outputs = self.infer(stacked)
            for j, i in enumerate(members):
                results[i] = self.postprocess([o[j:j + 1] for o in outputs], boxes[i], net_w, net_h, options[i])
        return results

    def warmup(self) -> None:
        """One run at load, so the first real request does not pay for lazy allocation."""
        self(np.full((self.spec.input.height, self.spec.input.width, 3), 127, np.uint8))


def _round_up(side: int) -> int:
    return max(STRIDE, -(-side // STRIDE) * STRIDE)


# -- the servable task -------------------------------------------------------------------------------------------


class DetectParams(BaseModel):
    """Options of one detection request (form fields on /v2/detect, `--option` on `vigil run detect`)."""

    model_config = ConfigDict(extra="forbid")
    min_score: float | None = Field(None, ge=0, le=1, description="drop detections scoring lower (default: configured)")
    labels: str | None = Field(None, description="comma-separated class names to keep, e.g. person,car")

    def label_list(self) -> list[str] | None:
        return [s.strip() for s in self.labels.split(",") if s.strip()] if self.labels else None


def known_labels(wanted: Sequence[str] | None, labels: Sequence[str]) -> list[str] | None:
    """`wanted` when every name is one of the model's labels; else BadInput naming the close match (a typo such as
    "persn" would otherwise keep nothing, silently)."""
    if wanted is None:
        return None
    for label in wanted:
        if label not in labels:
            close = difflib.get_close_matches(label, labels, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else " (see the model's labels)"
            raise BadInput(f"unknown label {label!r}{hint}")
    return list(wanted)


@dataclass(frozen=True)
class DetectInput:
    """A decoded frame and its detector input, ready to join a batch."""

    frame: DecodedImage
    min_score: float | None
    labels: Sequence[str] | None
    tensor: np.ndarray
    box: Letterbox


class DetectRunner:
    """The configured detector as a task: preprocess in the caller's thread, batched runs, boxes mapped back to the
    original image and filtered by the configured thresholds and labels."""

    def __init__(self, detector: ObjectDetector, thresholds: ModelThresholds, iou: float,
                 gate: PresenceGate | None = None, look: LookPlan = NO_LOOK) -> None:
        self.detector, self.thresholds, self.iou, self.gate, self.look = detector, thresholds, iou, gate, look
        if tuple(detector.labels[:1]) != (PERSON,):
            self.look = NO_LOOK  # the second look is for people, class 0 of the COCO detectors, not other label sets
        # a LiteRT interpreter (the detector's or the presence gate's) is not re-entrant: one runner per worker
        self.reentrant = detector.spec.runtime == "onnxruntime" and gate is None

    @classmethod
    def load(cls, context: TaskContext) -> DetectRunner:
        cfg = context.config.detect
        detector = ObjectDetector.load(context.store, cfg.model, cfg.input_size, cfg.rect, context.threads,
                                       cfg.precision, context.open_session)
        gate = PresenceGate.from_config(context.config, context.store)
        return cls(detector, context.config.thresholds(cfg.model), cfg.iou, gate, LookPlan.from_config(cfg))

    def prepare(self, frame: DecodedImage, options: DetectParams) -> DetectInput:
        labels = known_labels(options.label_list(), self.detector.labels)
        tensor, box = self.detector.preprocess(frame.pixels)
        return DetectInput(frame, options.min_score, labels, tensor, box)

    def run_batch(self, items: Sequence[DetectInput]) -> list[Detections]:
        """Detect in prepared frames, sharing session runs where the model allows (see ObjectDetector.run_batch)."""
        scores = [self.thresholds.min_score if p.min_score is None else p.min_score for p in items]
        options = [DetectOptions(min_score=self.look.first_pass_score(s), iou=self.iou) for s in scores]
        found = run_gated(self.gate, [p.frame for p in items], lambda keep: self.detector.run_batch(
            [items[i].tensor for i in keep], [items[i].box for i in keep], [options[i] for i in keep]))
        if self.look.active:
            found = self.second_look(items, found, scores)
        return [_to_frame(d, p.frame, self.thresholds, p.labels) for d, p in zip(found, items, strict=True)]

    def second_look(self, items: Sequence[DetectInput], found: list[Detections], scores: list[float]
                    ) -> list[Detections]:
        """A closer look where each frame's first pass asks for one (tasks/second_look.py), merged back."""
        frames = [FrameLook(item.frame.pixels, first, score, item.box.scale_x, _moved(item.frame))
                  for item, first, score in zip(items, found, scores, strict=True)]

        def run(crops: list[np.ndarray], min_scores: list[float]) -> list[Detections]:
            prepared = [self.detector.preprocess(c, self.look.side) for c in crops]
            return self.detector.run_batch([t for t, _ in prepared], [b for _, b in prepared],
                                           [DetectOptions(min_score=s, iou=self.iou) for s in min_scores])

        return look_again(self.look, frames, run, self.detector.labels)


def _moved(frame: DecodedImage) -> np.ndarray | None:
    """Where the frame changed, in its decoded pixels (the source says it in full-size pixels)."""
    return None if frame.moved is None else frame.moved * np.float32(frame.scale)


def _to_frame(found: Detections, frame: DecodedImage, thresholds: ModelThresholds,
              labels: Sequence[str] | None) -> Detections:
    if frame.scale != 1.0:
        bounds = [frame.width, frame.height, frame.width, frame.height]
        found.xyxy = np.clip(found.xyxy / frame.scale, 0, bounds).astype(np.float32)
    return _filter(found, thresholds, labels)


def _filter(found: Detections, thresholds: ModelThresholds, labels: Sequence[str] | None) -> Detections:
    allowed = list(labels) if labels is not None else thresholds.labels
    if allowed:
        found = found[np.isin(found.data[CLASS_NAME], allowed)]
    if thresholds.min_area > 0:
        found = found[found.area >= thresholds.min_area]
    return found


def _reduced_side(config: VigilConfig) -> int:
    cfg = config.detect
    return round(cfg.input_size * (cfg.look_decode if cfg.profile == "second_look" else 1))


TASK = TaskDef(
    name="detect",
    summary="Objects in one uploaded image",
    options=DetectParams,
    load=DetectRunner.load,
    encode=native.detections,
    decode_side=_reduced_side,
    models=lambda config: (config.detect.model,),
    preload=lambda config: True,
    section="detect",
)
