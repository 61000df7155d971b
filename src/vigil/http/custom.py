"""/v1/vision/custom/<model> and /v1/vision/custom/list: detectors other than the configured one, by store name or by a
`[detect] aliases` name (Blue Iris's ipcam-general, ipcam-combined …: a detector and a label filter). A store detector
is loaded on first use in the process that serves the route and run one at a time (a rarely used path gains nothing
from a batcher); an alias of the configured detector runs on the executor like /v1/vision/detection."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from vigil.config.tasks import DetectAlias
from vigil.errors import NotActivated, NotFound, Overloaded
from vigil.execute.executor import Executor, remaining
from vigil.results import CLASS_NAME, ImageResult
from vigil.tasks.detect import DetectOptions, DetectParams, ObjectDetector, known_labels


class CustomModels:
    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self._loaded: dict[str, ObjectDetector] = {}
        self._lock, self._running = threading.Lock(), threading.Lock()

    def detectors(self) -> list[str]:
        """Store models a custom call may name: detectors only (never face or presence models)."""
        store = self.executor.store
        return sorted(name for name in store.specs if store.spec(name).task == "detect")

    def names(self) -> list[str]:
        """What /v1/vision/custom/list answers: the store's detectors and the aliases."""
        return sorted({*self.detectors(), *self.executor.config.detect.aliases})

    def resolve(self, name: str) -> DetectAlias:
        """A custom name as a detector and its labels; NotFound in CodeProject.AI's words, listing detectors only."""
        config = self.executor.config.detect
        if name in config.aliases:
            alias = config.aliases[name]
            return DetectAlias(model=alias.model or config.model, labels=alias.labels)
        if name in self.detectors():
            return DetectAlias(model=name)
        raise NotFound(f"custom model {name!r} not found; available: {', '.join(self.names())}")

    def detector(self, name: str) -> ObjectDetector:
        with self._lock:
            if name not in self._loaded:
                store = self.executor.store
                if not all(s.verified for s in store.status(name)):
                    raise NotActivated(f"model {name} is not in the cache (looked in {store.folder(name)}); run "
                                       f"`vigil models pull {name}`")
                self._loaded[name] = ObjectDetector.load(store, name, threads=self.executor.config.detect.threads
                                                         or None)
            return self._loaded[name]

    def detect(self, name: str, data: bytes, min_score: float | None, deadline: float) -> ImageResult:
        executor = self.executor
        config = executor.config
        target = self.resolve(name)
        labels = self._labels(name, target)
        if target.model == config.detect.model:
            params = DetectParams(min_score=min_score, labels=",".join(labels) if labels else None)
            return executor.detect_bytes(data, "", params, deadline)[0]
        detector = self.detector(target.model)
        frame = executor.decode(data, full_size=True)
        threshold = config.thresholds(target.model).min_score if min_score is None else min_score
        options = DetectOptions(min_score=threshold, iou=config.detect.iou)
        found = self._one_at_a_time(lambda: detector(frame.pixels, options), deadline)
        if labels:
            found = found[np.isin(found.data[CLASS_NAME], labels)]
        return ImageResult("", found, frame.width, frame.height)

    def _labels(self, name: str, target: DetectAlias) -> list[str]:
        """An alias's labels that its model has (the built-in ones name both COCO spellings, motorbike and
        motorcycle); BadInput, naming the close match, when it has none of them."""
        if not target.labels:
            return []
        own = self.executor.store.labels(target.model)
        kept = [label for label in target.labels if label in own]
        if not kept:
            known_labels(target.labels[:1], own)  # raises, with the close match
        return kept

    def _one_at_a_time(self, call: Any, deadline: float) -> Any:
        if not self._running.acquire(timeout=remaining(deadline)):
            raise Overloaded("custom detector busy past the request timeout; retry later")
        try:
            return call()
        finally:
            self._running.release()

