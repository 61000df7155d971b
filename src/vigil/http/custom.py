"""/v1/vision/custom/<model>: detectors other than the configured one, by store name, loaded on first use in the
process that serves the route and run one at a time (a rarely used path gains nothing from a batcher)."""

from __future__ import annotations

import threading
from typing import Any

from vigil.errors import BadInput, NotActivated, Overloaded
from vigil.execute.executor import Executor, remaining
from vigil.results import ImageResult
from vigil.tasks.detect import DetectOptions, DetectParams, ObjectDetector


class CustomModels:
    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self._loaded: dict[str, ObjectDetector] = {}
        self._lock, self._running = threading.Lock(), threading.Lock()

    def detector(self, name: str) -> ObjectDetector:
        with self._lock:
            if name not in self._loaded:
                store = self.executor.store
                spec = store.spec(name)  # NotFound, with close matches, for an unknown name
                if spec.task != "detect":
                    raise BadInput(f"{name} is a {spec.task} model, not a detector")
                if not all(s.verified for s in store.status(name)):
                    raise NotActivated(f"model {name} is not pulled; run `vigil models pull {name}`")
                self._loaded[name] = ObjectDetector.load(store, name, threads=self.executor.config.detect.threads
                                                         or None)
            return self._loaded[name]

    def detect(self, name: str, data: bytes, min_score: float | None, deadline: float) -> ImageResult:
        executor = self.executor
        config = executor.config
        if name == config.detect.model:
            return executor.detect_bytes(data, "", DetectParams(min_score=min_score), deadline)[0]
        detector = self.detector(name)
        frame = executor.decode(data, full_size=True)
        threshold = config.thresholds(name).min_score if min_score is None else min_score
        options = DetectOptions(min_score=threshold, iou=config.detect.iou)
        found = self._one_at_a_time(lambda: detector(frame.pixels, options), deadline)
        return ImageResult("", found, frame.width, frame.height)

    def _one_at_a_time(self, call: Any, deadline: float) -> Any:
        if not self._running.acquire(timeout=remaining(deadline)):
            raise Overloaded("custom detector busy past the request timeout; retry later")
        try:
            return call()
        finally:
            self._running.release()
