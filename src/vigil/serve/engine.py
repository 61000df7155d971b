"""What both front ends share: the pipeline with its models loaded once, the bounded batchers every model run goes
through, the metrics, and the steps of one request (decode and preprocess in the caller's thread, model in a batch).

Methods block; the HTTP front end calls them from its thread pool, the zerorpc one from gevent's thread pool.
Each takes a `deadline` (time.monotonic) so a request's timeout covers decode, queueing and the model run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import numpy as np

from vigil import images
from vigil.config import VigilConfig
from vigil.errors import BadInput, ModelIntegrityError, NotActivated, NotFound, TimedOut
from vigil.pipeline import DetectRequest, Pipeline
from vigil.results import Detections, ImageResult
from vigil.runtimes.onnx import default_threads
from vigil.serve.batching import MicroBatcher, call_each
from vigil.serve.bounds import check_count
from vigil.serve.metrics import Metrics

log = logging.getLogger(__name__)
PERSON = "person"
LOAD_RETRY_S = 60.0  # a face-model load that failed is tried again after this long, not on every call


class Engine:
    def __init__(self, config: VigilConfig, pipeline: Pipeline | None = None) -> None:
        config, self.workers = _share_cores(config)
        self.config = config
        self.pipeline = pipeline or Pipeline(config)
        self.metrics = Metrics()
        self.ready = False
        self._detect: MicroBatcher | None = None
        self._calls: MicroBatcher | None = None
        self._classifier: Any = None
        self._faces_failed: tuple[float, str] | None = None  # (when, why) the face models last failed to load
        self._lock = threading.Lock()

    # -- life cycle

    def setup(self, preload: bool = False) -> Engine:
        """Load the detector (and warm it up), start the batchers. With `preload` (the server), also load the face
        models, or the person classifier in person mode, so the first call does not pay for it; one that cannot
        load leaves its routes answering 403 with the reason instead of stopping the server."""
        self.pipeline.setup()
        if preload:
            self._preload()
        server = self.config.server
        model = self.config.detect.model
        self._detect = MicroBatcher(model, self.pipeline.detect_prepared, server.max_batch, server.queue_size,
                                    self.workers, server.retry_after_s, self.metrics)
        self._calls = MicroBatcher("faces", call_each, 1, server.queue_size, 1, server.retry_after_s, self.metrics)
        self.metrics.watch_queue(model, lambda: self._detect.depth if self._detect else 0)
        self.metrics.watch_queue("faces", lambda: self._calls.depth if self._calls else 0)
        self.ready = True
        return self

    def _preload(self) -> None:
        person_mode = self.config.rpc.recognize_mode == "person"
        for what, load in (("faces", lambda: self.recognizer), ("person classifier", lambda: self.classifier)):
            if what == "person classifier" and not (person_mode or self.config.person.model):
                continue
            try:
                load()
            except NotActivated as exc:
                log.warning("not loaded", extra={"what": what, "reason": str(exc)})

    def close(self) -> None:
        self.ready = False
        for batcher in (self._detect, self._calls):
            if batcher is not None:
                batcher.close()

    @property
    def accepting(self) -> bool:
        """Ready, and the detector's queue has room (what a load balancer should route on)."""
        queue = self._detect
        return self.ready and queue is not None and queue.depth < self.config.server.queue_size

    def deadline(self) -> float:
        return time.monotonic() + self.config.server.request_timeout_s

    @property
    def retry_after_s(self) -> int:
        return self.config.server.retry_after_s

    # -- detection

    def decode(self, source: bytes | Path, full_size: bool = False) -> images.DecodedImage:
        return self.pipeline.decode(source, full_size=full_size)

    def detect_frame(self, frame: images.DecodedImage, request: DetectRequest, deadline: float) -> Detections:
        if self._detect is None:
            raise NotActivated("the server is still loading its models")
        prepared = self.pipeline.prepare(frame, request)
        return self._detect(prepared, _remaining(deadline))

    def detect_bytes(self, data: bytes, name: str, request: DetectRequest, deadline: float
                     ) -> tuple[ImageResult, images.DecodedImage]:
        """Objects in one uploaded image; BadInput for anything that is not a usable image."""
        frame = self.decode(data, full_size=request.keep_pixels)
        detections = self.detect_frame(frame, request, deadline)
        return ImageResult(name, detections, frame.width, frame.height), frame

    def resolve(self, path: str) -> Path:
        """A client's path on this machine, inside the media roots (BadInput otherwise)."""
        roots = self.config.media.roots
        if not roots:
            raise BadInput(f"{path}: no media roots are configured, so no path may be read ([media] roots)")
        return images.resolve_media_path(path, roots, self.config.rpc.mount_point)

    def detect_paths(self, paths: Sequence[str], request: DetectRequest, deadline: float) -> list[ImageResult]:
        """The seed's detect_objects: one result per path in input order; a bad path gets its own error.
        Frames are decoded one after another while earlier ones wait for or run in the detector."""
        check_count(len(paths), self.config.limits.max_paths, "paths", "max_paths")
        results: list[ImageResult | None] = [None] * len(paths)
        pending: list[tuple[int, Any, images.DecodedImage]] = []
        skip = self.pipeline.frame_skip
        window = 2 * self.config.server.max_batch * self.workers  # one call never floods the shared queue
        for i, path in enumerate(paths):
            if not isinstance(path, str):
                results[i] = ImageResult(str(path), error="each path must be a string")
                continue
            if skip.active:  # the previous frame's labels must be known before deciding (seed order)
                self._collect(pending, paths, results, deadline)
                reused = skip.reuse(path)
                if reused is not None:
                    results[i] = ImageResult(path, reused)
                    continue
            self._collect(pending, paths, results, deadline, down_to=window - 1)
            try:
                frame = self.decode(self.resolve(path))
                if self._detect is None:
                    raise NotActivated("the server is still loading its models")
                future = self._detect.submit(self.pipeline.prepare(frame, request), _remaining(deadline))
                pending.append((i, future, frame))
            except BadInput as exc:
                results[i] = ImageResult(path, error=str(exc))
        self._collect(pending, paths, results, deadline)
        return [r if r is not None else ImageResult(str(p), error="not processed") for r, p in zip(results, paths,
                                                                                                      strict=True)]

    def _collect(self, pending: list, paths: Sequence[str], results: list, deadline: float, down_to: int = 0) -> None:
        while len(pending) > down_to:
            i, future, frame = pending.pop(0)
            try:
                detections = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                future.cancel()
                raise TimedOut(f"detect_objects: no result within {self.config.server.request_timeout_s:g} s") from None
            results[i] = ImageResult(paths[i], detections, frame.width, frame.height)
            self.pipeline.frame_skip.remember(paths[i], detections)

    # -- faces and the person classifier (loaded on first use, run one at a time through the faces queue)

    def run_model(self, call: Callable[[], Any], deadline: float) -> Any:
        if self._calls is None:
            raise NotActivated("the server is still loading its models")
        return self._calls(call, _remaining(deadline))

    @property
    def recognizer(self) -> Any:
        if getattr(type(self.pipeline), "faces", None) is None:
            raise NotActivated("face recognition is not part of this build")
        failed = self._faces_failed
        if failed is not None and time.monotonic() - failed[0] < LOAD_RETRY_S:  # loading again costs every call
            raise NotActivated(failed[1])
        try:
            return self.pipeline.faces
        except (ModelIntegrityError, NotFound, ImportError) as exc:
            self._faces_failed = (time.monotonic(), f"face recognition is not available: {exc}")
            raise NotActivated(self._faces_failed[1]) from None

    @property
    def classifier(self) -> Any:
        with self._lock:
            if self._classifier is None:
                self._classifier = self._load_classifier()
        return self._classifier

    def _load_classifier(self) -> Any:
        name = self.config.person.model
        if not name:
            raise NotActivated("the person classifier needs [person] model (a trained classifier in the store)")
        try:
            from vigil.tasks.classify import PersonClassifier
        except ImportError:
            raise NotActivated("the person classifier is not part of this build") from None
        try:
            return PersonClassifier.load(self.pipeline.store, name, self.config.person.threads or None)
        except (ModelIntegrityError, NotFound) as exc:
            raise NotActivated(f"the person classifier {name!r} is not available: {exc}") from None

    def label_entries(self, entries: Sequence[ImageResult], deadline: float) -> list[ImageResult]:
        """The seed's detect_faces: echo every entry; on entries with a person, add face/faceProba to each label,
        by the face pipeline or the whole-person classifier as `[rpc] recognize_mode` says."""
        return [self._label_entry(entry, deadline) for entry in entries]

    def _label_entry(self, entry: ImageResult, deadline: float) -> ImageResult:
        dets = entry.detections
        names = dets.data.get("class_name", np.array([], dtype=object))
        if entry.error or not np.any(names == PERSON):
            return entry
        try:
            frame = self.decode(self.resolve(entry.image), full_size=True)
        except BadInput as exc:
            return ImageResult(entry.image, dets, error=str(exc))
        labelled = self.run_model(lambda: self.label_persons(frame, dets, entry.image, deadline), deadline)
        return ImageResult(entry.image, labelled, frame.width, frame.height)

    def label_persons(self, frame: images.DecodedImage, detections: Detections, source: str = "",
                      deadline: float | None = None) -> Detections:
        if self.config.rpc.recognize_mode == "person":
            return self.classifier.label_persons(frame, detections, self.config.person.min_proba, deadline)
        return self.recognizer.label_persons(frame, detections, source, deadline)


def _share_cores(config: VigilConfig) -> tuple[VigilConfig, int]:
    """Workers and threads per run. On a small busy CPU, one single-threaded run per core beats one run spread over
    all cores: no thread hand-offs or spinning inside a run, and decode overlaps inference (benchmarks/bench_serve.py).
    """
    cores = default_threads()
    workers = config.server.workers or cores
    if config.detect.threads:
        return config, workers
    detect = config.detect.model_copy(update={"threads": max(1, cores // workers)})
    return config.model_copy(update={"detect": detect}), workers


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimedOut("the request timeout passed before the model could run")
    return left



class CustomModels:
    """Detectors other than the configured one, by store name, for /v1/vision/custom/<model>; loaded on first use
    and run one at a time through the faces queue (a rarely used path gains nothing from its own batcher)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def detector(self, name: str) -> Any:
        from vigil.tasks.detect import ObjectDetector

        with self._lock:
            if name not in self._loaded:
                store = self.engine.pipeline.store
                spec = store.spec(name)  # NotFound, with close matches, for an unknown name
                if spec.task != "detect":
                    raise BadInput(f"{name} is a {spec.task} model, not a detector")
                if not all(s.verified for s in store.status(name)):
                    raise NotActivated(f"model {name} is not pulled; run `vigil models pull {name}`")
                self._loaded[name] = ObjectDetector.load(store, name, threads=self.engine.config.detect.threads or None)
            return self._loaded[name]

    def detect(self, name: str, data: bytes, min_score: float | None, deadline: float) -> ImageResult:
        from vigil.tasks.detect import DetectOptions

        config = self.engine.config
        if name == config.detect.model:
            return self.engine.detect_bytes(data, "", DetectRequest(min_score=min_score), deadline)[0]
        detector = self.detector(name)
        frame = self.engine.decode(data, full_size=True)
        threshold = config.thresholds(name).min_score if min_score is None else min_score
        options = DetectOptions(min_score=threshold, iou=config.detect.iou)
        found = self.engine.run_model(lambda: detector(frame.pixels, options), deadline)
        return ImageResult("", found, frame.width, frame.height)
