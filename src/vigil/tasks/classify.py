"""Person classification (seed 000, `[recognize] by = "person_classifier"`): each person box is cropped, stretched
to the model's input, and classified by a trained model from the store (int8 ONNX by default, fp32 ONNX or int8 LiteRT
by name). onnxruntime / LiteRT only: serving never imports torch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vigil.errors import BadInput, NotActivated, check_deadline
from vigil.formats import native
from vigil.imaging.images import DecodedImage
from vigil.ops.letterbox import stretch
from vigil.ops.tensor import to_tensor
from vigil.registry.labels import PERSON
from vigil.registry.specs import ModelSpec
from vigil.registry.store import ModelStore
from vigil.results import CLASS_NAME, Detections
from vigil.runtimes.session import Session, open_session
from vigil.tasks.base import TaskCall, TaskContext, TaskDef, from_wall_clock
from vigil.tasks.detect import DetectParams

MIN_CROP_PX = 2  # a box thinner than this has no pixels to classify


class PersonClassifier:
    def __init__(self, spec: ModelSpec, session: Session, labels: tuple[str, ...]) -> None:
        self.spec, self.session, self.labels = spec, session, labels
        shape = list(getattr(session, "input_shape", None) or [])
        self.batched = bool(shape) and not isinstance(shape[0], int)  # LiteRT files are batch 1

    @classmethod
    def load(cls, store: ModelStore, name: str, threads: int | None = None, opener=open_session) -> PersonClassifier:
        spec = store.spec(name)
        if spec.task != "classify" or spec.runtime not in ("onnxruntime", "litert"):
            raise BadInput(f"{name} is a {spec.task} model for {spec.runtime}, not a servable classifier")
        # the store's verified file only: serving never pulls or converts (`vigil export` registers and pulls a run)
        classifier = cls(spec, opener(store.path(name, "model"), spec.runtime, threads), store.labels(name))
        classifier.classify([np.full((spec.input.height, spec.input.width, 3), 127, np.uint8)])  # warm-up
        return classifier

    def preprocess(self, rgb: np.ndarray) -> np.ndarray:
        return to_tensor(stretch(rgb, self.spec.input.width, self.spec.input.height)[0], self.spec.input)

    def probabilities(self, rgb_crops: list[np.ndarray]) -> np.ndarray:
        if not rgb_crops:
            return np.zeros((0, len(self.labels)), np.float32)
        tensors = [self.preprocess(c) for c in rgb_crops]
        if self.batched:
            return self._dequantize(self.session.run([np.concatenate(tensors)])[0])
        return np.concatenate([self._dequantize(self.session.run([t])[0]) for t in tensors])

    def _dequantize(self, out: np.ndarray) -> np.ndarray:
        if np.issubdtype(out.dtype, np.integer):  # a full-integer model's int8 probabilities
            scale, zero = self.session.output_quantization[0]
            return (out.astype(np.float32) - zero) * scale
        return out.astype(np.float32)

    def classify(self, rgb_crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Top class name and its probability for each RGB uint8 crop."""
        probs = self.probabilities(rgb_crops)
        top = probs.argmax(1) if len(probs) else np.zeros(0, np.int64)
        return [(self.labels[i], float(p[i])) for i, p in zip(top, probs, strict=True)]

    def label_persons(self, frame: DecodedImage, detections: Detections, min_proba: float,
                      deadline: float | None = None) -> Detections:
        """Seed 000 for one image: `face` = class name if its probability ≥ min_proba else None, `faceProba` =
        probability, for person detections; None/None for the rest (and for boxes with no pixels)."""
        names = detections.data.get(CLASS_NAME, np.array([None] * len(detections), dtype=object))
        face = np.array([None] * len(detections), dtype=object)
        proba = np.array([None] * len(detections), dtype=object)
        crops, where = [], []
        for i, (box, name) in enumerate(zip(detections.xyxy, names, strict=True)):
            check_deadline(deadline, "classifying persons")
            crop = _crop(frame, box)
            if name == PERSON and crop is not None:
                crops.append(crop)
                where.append(i)
        for i, (label, p) in zip(where, self.classify(crops), strict=True):
            face[i], proba[i] = (label if p >= min_proba else None), p
        return Detections(detections.xyxy, detections.score, detections.class_id,
                          {**detections.data, "face": face, "faceProba": proba})


def _crop(frame: DecodedImage, box: np.ndarray) -> np.ndarray | None:
    """The box (original-image pixels) cut from the possibly reduced decode."""
    h, w = frame.pixels.shape[:2]
    x0, y0, x1, y1 = (np.asarray(box, np.float64) * frame.scale).round().astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < MIN_CROP_PX or y1 - y0 < MIN_CROP_PX:
        return None
    return frame.pixels[y0:y1, x0:x1]


# -- the servable task -------------------------------------------------------------------------------------------


class ClassifyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_score: float | None = Field(None, ge=0, le=1, description="drop person detections scoring lower "
                                                                   "(default: configured)")


@dataclass(frozen=True)
class ClassifyInput:
    frame: DecodedImage
    detections: Detections  # the boxes to name (only `person` ones are classified)


class ClassifyRunner:
    """The whole-person classifier as a task: persons found by the detect task (through the executor, inside the
    caller's deadline), each named by the classifier in a batch worker."""

    def __init__(self, classifier: PersonClassifier, min_proba: float, run: TaskCall | None = None) -> None:
        self.classifier, self.min_proba, self._run = classifier, min_proba, run
        self.reentrant = classifier.spec.runtime == "onnxruntime"

    @classmethod
    def load(cls, context: TaskContext) -> ClassifyRunner:
        person, name = context.config.person, context.config.recognize.person_model
        if not name:
            raise NotActivated("the person classifier needs [recognize] person_model (a trained classifier in the "
                               "store)")
        classifier = PersonClassifier.load(context.store, name, context.threads, context.open_session)
        return cls(classifier, person.min_proba, context.run)

    def prepare(self, frame: DecodedImage, options: ClassifyParams) -> ClassifyInput:
        if self._run is None:
            raise NotActivated("the classify task needs the detect task to find persons")
        found = self._run("detect", frame, DetectParams(min_score=options.min_score, labels=PERSON))
        return ClassifyInput(frame, found)

    def run_batch(self, items: Sequence[ClassifyInput]) -> list[Detections]:
        return [self.classifier.label_persons(i.frame, i.detections, self.min_proba) for i in items]


def label(frame: DecodedImage, detections: Detections, source: str, wall: float, runner: ClassifyRunner
          ) -> Detections:
    """The seed's detect_faces by whole-person crops: `face` / `faceProba` on each person box."""
    return runner.classifier.label_persons(frame, detections, runner.min_proba, from_wall_clock(wall))


def scene(frame: DecodedImage, runner: ClassifyRunner) -> tuple[str, float]:
    """The whole frame as one crop: the top class and its probability (CodeProject.AI's /v1/vision/scene)."""
    return runner.classifier.classify([frame.pixels])[0]


TASK = TaskDef(
    name="classify",
    summary="Persons in the image, each named by the whole-person classifier ([recognize] person_model)",
    options=ClassifyParams,
    load=ClassifyRunner.load,
    encode=native.detections,
    models=lambda config: (config.recognize.person_model,) if config.recognize.person_model else (),
    preload=lambda config: bool(config.recognize.person_model),
    available=lambda config: bool(config.recognize.person_model),
    section="person",
    needs=("detect",),
    operations={"label": label, "scene": scene},
)
