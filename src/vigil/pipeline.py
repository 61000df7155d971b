"""Composes the model wrappers along the straight line: bytes → decoded image → models → ImageResult."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vigil import images
from vigil.config import ModelThresholds, VigilConfig
from vigil.errors import VigilError
from vigil.frameskip import FrameSkip
from vigil.ops.letterbox import Letterbox
from vigil.registry.store import ModelStore
from vigil.results import Detections, ImageResult
from vigil.tasks.detect import DetectOptions, ObjectDetector

log = logging.getLogger(__name__)
ImageSource = str | Path | bytes


@dataclass(frozen=True)
class DetectRequest:
    min_score: float | None = None  # None: the model's configured threshold
    labels: Sequence[str] | None = None  # None: the configured allowed labels
    keep_pixels: bool = False  # return the decoded frame too (annotation, face crops)


@dataclass(frozen=True)
class Prepared:
    """A decoded frame and its detector input, ready to join a batch."""

    frame: images.DecodedImage
    request: DetectRequest
    tensor: np.ndarray
    box: Letterbox


class Pipeline:
    def __init__(self, config: VigilConfig | None = None, store: ModelStore | None = None) -> None:
        self.config = config or VigilConfig()
        self.store = store or ModelStore(self.config.store.home)
        self.limits = self.config.limits.image_limits()
        self._detector: ObjectDetector | None = None
        self._faces = None
        self._lock = threading.Lock()
        self.frame_skip = FrameSkip(self.config.rpc.conseq_images_to_skip)

    @property
    def detector(self) -> ObjectDetector:
        """Loaded on first use (or by `setup`), never at import or when config is read."""
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    cfg = self.config.detect
                    self._detector = ObjectDetector.load(self.store, cfg.model, cfg.input_size, cfg.rect,
                                                         cfg.threads or None, cfg.precision)
        return self._detector

    @property
    def faces(self):
        """The FaceRecognizer (models/faces.py), loaded on first use with the configured gallery."""
        if self._faces is None:
            with self._lock:
                if self._faces is None:
                    from vigil.faces.recognizer import FaceRecognizer

                    self._faces = FaceRecognizer.load(self.config, self.store)
        return self._faces

    def setup(self) -> Pipeline:
        _ = self.detector
        return self

    def decode(self, source: ImageSource, full_size: bool = False) -> images.DecodedImage:
        size = self.config.detect.input_size
        return images.load(source, self.limits, fit=None if full_size else (size, size))

    def detect(self, source: ImageSource, name: str = "", request: DetectRequest = DetectRequest()
               ) -> tuple[ImageResult, images.DecodedImage | None]:
        """Detect objects in one image. Bad input becomes an ImageResult with `error`, never an exception."""
        name = name or (str(source) if not isinstance(source, bytes) else "")
        try:
            frame = self.decode(source, full_size=request.keep_pixels)
        except VigilError as exc:
            return ImageResult(image=name, error=str(exc)), None
        detections = self.detect_frame(frame, request)
        return ImageResult(name, detections, frame.width, frame.height), frame if request.keep_pixels else None

    def detect_frame(self, frame: images.DecodedImage, request: DetectRequest = DetectRequest()) -> Detections:
        return self.detect_prepared([self.prepare(frame, request)])[0]

    def prepare(self, frame: images.DecodedImage, request: DetectRequest = DetectRequest()) -> Prepared:
        """The detector's input for one frame; servers run this in the request's thread, apart from inference."""
        tensor, box = self.detector.preprocess(frame.pixels)
        return Prepared(frame, request, tensor, box)

    def detect_prepared(self, batch: Sequence[Prepared]) -> list[Detections]:
        """Detect in prepared frames, sharing session runs where the model allows (see ObjectDetector.run_batch)."""
        thresholds = self.config.thresholds(self.config.detect.model)
        options = [DetectOptions(min_score=thresholds.min_score if p.request.min_score is None else p.request.min_score,
                                 iou=self.config.detect.iou) for p in batch]
        found = self.detector.run_batch([p.tensor for p in batch], [p.box for p in batch], options)
        return [_to_frame(d, p.frame, thresholds, p.request.labels) for d, p in zip(found, batch, strict=True)]

    def detect_many(self, sources: Sequence[ImageSource],
                    request: DetectRequest = DetectRequest()) -> list[ImageResult]:
        return [self.detect(s, request=request)[0] for s in sources]


def _to_frame(found: Detections, frame: images.DecodedImage, thresholds: ModelThresholds,
              labels: Sequence[str] | None) -> Detections:
    if frame.scale != 1.0:
        bounds = [frame.width, frame.height, frame.width, frame.height]
        found.xyxy = np.clip(found.xyxy / frame.scale, 0, bounds).astype(np.float32)
    return _filter(found, thresholds, labels)


def _filter(found: Detections, thresholds: ModelThresholds, labels: Sequence[str] | None) -> Detections:
    allowed = list(labels) if labels is not None else thresholds.labels
    if allowed:
        found = found[np.isin(found.data["class_name"], allowed)]
    if thresholds.min_area > 0:
        found = found[found.area >= thresholds.min_area]
    return found
