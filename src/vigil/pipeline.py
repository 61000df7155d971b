"""Composes the model wrappers along the straight line: bytes → decoded image → models → ImageResult."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil import images
from vigil.config import VigilConfig
from vigil.errors import VigilError
from vigil.frameskip import FrameSkip
from vigil.registry.store import ModelStore
from vigil.results import Detections, ImageResult
from vigil.tasks.base import TaskContext
from vigil.tasks.detect import DetectInput, DetectParams, DetectRunner, ObjectDetector

log = logging.getLogger(__name__)
ImageSource = str | Path | bytes


@dataclass(frozen=True)
class DetectRequest:
    min_score: float | None = None  # None: the model's configured threshold
    labels: Sequence[str] | None = None  # None: the configured allowed labels
    keep_pixels: bool = False  # return the decoded frame too (annotation, face crops)

    def params(self) -> DetectParams:
        """The detect task's options for this request (what its runner's `prepare` takes, in-process or on Ray)."""
        return DetectParams(min_score=self.min_score, labels=None if self.labels is None else ",".join(self.labels))


class Pipeline:
    def __init__(self, config: VigilConfig | None = None, store: ModelStore | None = None) -> None:
        self.config = config or VigilConfig()
        self.store = store or ModelStore(self.config.store.home)
        self.limits = self.config.limits.image_limits()
        self._runner: DetectRunner | None = None
        self._faces = None
        self._lock = threading.Lock()
        self.frame_skip = FrameSkip(self.config.rpc.conseq_images_to_skip)

    @property
    def runner(self) -> DetectRunner:
        """The detect task's runner, loaded on first use (or by `setup`), never at import or when config is read."""
        if self._runner is None:
            with self._lock:
                if self._runner is None:
                    self._runner = DetectRunner.load(TaskContext(self.config, self.store))
        return self._runner

    @property
    def detector(self) -> ObjectDetector:
        return self.runner.detector

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

    def prepare(self, frame: images.DecodedImage, request: DetectRequest = DetectRequest()) -> DetectInput:
        """The detector's input for one frame; servers run this in the request's thread, apart from inference."""
        return self.runner.prepare_with(frame, request.min_score, request.labels)

    def detect_prepared(self, batch: Sequence[DetectInput]) -> list[Detections]:
        return self.runner.run_batch(batch)

