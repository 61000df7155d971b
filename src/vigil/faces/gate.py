"""The face gate (`[faces] gate`): a face / non-face classifier from the store that checks each face candidate before
it is aligned and embedded, so a detector's false faces (a patterned shirt, a poster, a wheel) never reach the
gallery. All of a frame's candidates are scored in one run when the model's batch axis is dynamic.

The gate sees exactly what `gate_crop` cuts, in grey (`as_grey`); `vigil faces dataset` writes its examples with the
same two functions, so training and serving agree on framing and colour. Grey because the demo set (LFW) and night
(IR) frames are grey: a gate trained on grey LFW and shown colour faces lost 9 of 119 true faces, 2 in grey
(benchmarks/bench_face_gate.py)."""

from __future__ import annotations

import cv2
import numpy as np

from vigil.errors import NotActivated, VigilError
from vigil.registry.store import ModelStore
from vigil.tasks.classify import PersonClassifier

FACE_LABEL = "face"
MIN_SIDE = 2  # a box thinner than this has no pixels: it is scored as not a face


def gate_crop(rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The candidate's pixels (its box, clipped to the image), or None when nothing is left."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = np.round(np.asarray(box, np.float64)).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE:
        return None
    return rgb[y0:y1, x0:x1]


def as_grey(rgb: np.ndarray) -> np.ndarray:
    """The crop in grey, as three equal channels (the layout every classify model takes)."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    return np.repeat(grey[:, :, None], 3, axis=2)


class FaceGate:
    """A classify model with a "face" label, served by onnxruntime or LiteRT (see tasks/classify.py)."""

    def __init__(self, classifier: PersonClassifier, min_proba: float) -> None:
        if FACE_LABEL not in classifier.labels:
            raise NotActivated(f"[faces] gate = {classifier.spec.name!r}: its labels {list(classifier.labels)} have "
                               f"no {FACE_LABEL!r} (train it on DIR/face + DIR/nonface)")
        self.classifier, self.min_proba = classifier, min_proba
        self.name = classifier.spec.name
        self.face_index = classifier.labels.index(FACE_LABEL)

    @classmethod
    def load(cls, store: ModelStore, name: str, min_proba: float, threads: int | None = None) -> FaceGate:
        """A missing, unverified or unsuitable model is NotActivated, naming it: faces stay off rather than
        running ungated on a configuration that asked for the gate."""
        try:
            return cls(PersonClassifier.load(store, name, threads), min_proba)
        except NotActivated:
            raise
        except (VigilError, ValueError, OSError, RuntimeError) as exc:
            raise NotActivated(f"[faces] gate = {name!r} cannot be loaded: {exc}") from exc

    def face_probability(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """P(face) per box (xyxy, `rgb` pixels); 0 for a box with no pixels."""
        crops = [gate_crop(rgb, box) for box in boxes]
        usable = [i for i, c in enumerate(crops) if c is not None]
        proba = np.zeros(len(crops), np.float32)
        if usable:
            scores = self.classifier.probabilities([as_grey(crops[i]) for i in usable])
            proba[usable] = scores[:, self.face_index]
        return proba

    def keep(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Boolean mask of the boxes the gate lets through."""
        return self.face_probability(rgb, boxes) >= self.min_proba
