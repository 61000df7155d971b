"""Object detection: any YOLO (darknet-converted, v5, v8/11 layouts) or Coral-layout SSD model."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vigil.ops import yolo
from vigil.ops.letterbox import Letterbox, fitted_size, letterbox, stretch
from vigil.ops.nms import nms
from vigil.ops.ssd import decode_ssd_coral, order_ssd_outputs
from vigil.ops.tensor import to_tensor
from vigil.registry.darknet import HEADS_KEY
from vigil.registry.specs import ModelSpec
from vigil.registry.store import ModelStore
from vigil.results import Detections
from vigil.runtimes.session import Session, open_session

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
             threads: int | None = None, precision: str = "fp32") -> ObjectDetector:
        spec = store.spec(name)
        session = open_session(store.path(name, spec.runtime_role(precision)), spec.runtime, threads)
        detector = cls(spec, session, store.labels(name), input_size, rect)
        detector.warmup()
        return detector

    def _dynamic_input(self) -> bool:
        shape = list(getattr(self.session, "input_shape", None) or [])
        spatial = shape[1:3] if self.spec.input.layout == "NHWC" else shape[2:4]
        return len(shape) == 4 and not all(isinstance(d, int) for d in spatial)

    def network_size(self, width: int, height: int) -> tuple[int, int]:
        """(w, h) of the network input for a frame of this size."""
        if self.fixed_shape:
            return self.spec.input.width, self.spec.input.height
        if not self.rect:
            return self.input_size, self.input_size
        fit_w, fit_h = fitted_size(width, height, self.input_size, self.input_size)
        return _round_up(fit_w), _round_up(fit_h)

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        net_w, net_h = self.network_size(image.shape[1], image.shape[0])
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
