"""What both front ends share: one bounded micro-batcher per registered task (built from its TaskDef), the metrics,
and the steps of one request (decode and prepare in the caller's thread, the model in a batch on a worker).

Tasks load on first use, except those whose TaskDef says `preload` (at server start). A runner that is not
re-entrant is loaded once per worker, so no LiteRT interpreter or dlib detector sees two threads. Methods block; the
HTTP front end calls them from its thread pool, the zerorpc one from gevent's thread pool. Each takes a `deadline`
(time.monotonic) so a request's timeout covers decode, queueing and the model run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel

from vigil import images
from vigil.config import VigilConfig
from vigil.discover import discover
from vigil.errors import BadInput, ModelIntegrityError, NotActivated, NotFound, TimedOut
from vigil.pipeline import DetectRequest, Pipeline
from vigil.registry.catalog import PERSON
from vigil.results import Detections, ImageResult
from vigil.runtimes.onnx import default_threads
from vigil.serve.batching import MicroBatcher, OnRunner, call_each
from vigil.serve.bounds import check_count
from vigil.serve.metrics import Metrics
from vigil.tasks.base import TaskContext, TaskDef, get

log = logging.getLogger(__name__)
DETECT = "detect"  # the task readiness is judged by, and whose failure to load stops the server
FACES, CLASSIFY = "faces", "classify"  # the tasks the seed's detect_faces labels persons with
LOAD_RETRY_S = 60.0  # a task whose models failed to load is tried again after this long, not on every call
T = TypeVar("T")


class Engine:
    def __init__(self, config: VigilConfig, pipeline: Pipeline | None = None) -> None:
        config, self.workers = _share_cores(config)
        self.config = config
        self.pipeline = pipeline or Pipeline(config)
        self.metrics = Metrics()
        self.ready = False
        self._batchers: dict[str, MicroBatcher] = {}
        self._runners: dict[str, list[Any]] = {}
        self._loading: dict[str, threading.Lock] = {}
        self._calls: MicroBatcher | None = None
        self._failed: dict[str, tuple[float, str]] = {}  # task -> (when, why) its models last failed to load
        self._lock = threading.Lock()
        discover()

    # -- life cycle

    def setup(self, preload: bool = False) -> Engine:
        """Load the detector (and warm it up) and start its batcher. With `preload` (the server), also load every
        task whose TaskDef asks for it, so the first call does not pay for it; one that cannot load leaves its routes
        answering 403 with the reason instead of stopping the server."""
        self.batcher(DETECT)
        if preload:
            for task in self.tasks().values():
                if task.name != DETECT and task.preload(self.config):
                    try:
                        self.batcher(task.name)
                    except NotActivated as exc:
                        log.warning("not loaded", extra={"what": task.name, "reason": str(exc)})
        server = self.config.server
        self._calls = MicroBatcher("custom", call_each, 1, server.queue_size, 1, server.retry_after_s, self.metrics)
        self.ready = True
        return self

    def close(self) -> None:
        self.ready = False
        for batcher in [*self._batchers.values(), self._calls]:
            if batcher is not None:
                batcher.close()

    @staticmethod
    def tasks() -> dict[str, TaskDef]:
        return discover()

    @property
    def accepting(self) -> bool:
        """Ready, and the detector's queue has room (what a load balancer should route on)."""
        queue = self._batchers.get(DETECT)
        return self.ready and queue is not None and queue.depth < self.config.server.queue_size

    def deadline(self) -> float:
        return time.monotonic() + self.config.server.request_timeout_s

    @property
    def retry_after_s(self) -> int:
        return self.config.server.retry_after_s

    # -- tasks

    def batcher(self, name: str) -> MicroBatcher:
        """The task's batcher, loading its runners on first use (NotActivated when they cannot load)."""
        found = self._batchers.get(name)
        if found is not None:
            return found
        task = get(name)
        with self._lock:
            lock = self._loading.setdefault(name, threading.Lock())
        with lock:
            if name not in self._batchers:
                self.use(name, self._load_once(task))
        return self._batchers[name]

    def _load_once(self, task: TaskDef) -> list[Any]:
        return load_remembered(task.name, lambda: self._load(task), self._failed)

    def use(self, name: str, runners: Sequence[Any]) -> None:
        """Serve task `name` with these loaded runners (one per worker; the same object repeated if re-entrant)."""
        task, server = get(name), self.config.server
        batcher = MicroBatcher(name, max_batch=task.max_batch or server.max_batch, queue_size=server.queue_size,
                               retry_after_s=server.retry_after_s, observer=self.metrics, runners=list(runners))
        self.metrics.task_models[name] = task.model_label(self.config)
        self.metrics.watch_queue(name, lambda: batcher.depth)
        old = self._batchers.get(name)
        self._runners[name], self._batchers[name] = list(runners), batcher
        if old is not None:
            old.close()

    def runner(self, name: str) -> Any:
        """A loaded runner of the task, for the caller-thread steps (`prepare`: numpy only, safe on any runner)."""
        self.batcher(name)
        return self._runners[name][0]

    def _load(self, task: TaskDef) -> list[Any]:
        shared: dict[str, Any] = {}

        def context(worker: int) -> TaskContext:
            return TaskContext(self.config, self.pipeline.store, run=self.run_frame_now, worker=worker, shared=shared)

        return load_runners(task, context, self.workers)

    def run_frame_now(self, name: str, frame: images.DecodedImage, options: BaseModel) -> Any:
        """`run_frame` within a fresh request timeout: how one task runs another (TaskContext.run)."""
        return self.run_frame(name, frame, options, self.deadline())

    def decode_for(self, name: str, source: bytes | Path) -> images.DecodedImage:
        """Decoded as the task wants it: reduced to its `decode_side` where it has one, else full size."""
        side = get(name).decode_side(self.config)
        return images.load(source, self.pipeline.limits, fit=(side, side) if side else None)

    def run_frame(self, name: str, frame: images.DecodedImage, options: BaseModel, deadline: float) -> Any:
        """Task `name` on one decoded frame: prepare here, the model in the task's batcher; the typed result."""
        prepared = self.runner(name).prepare(frame, options)
        return self.batcher(name)(prepared, remaining(deadline))

    def submit(self, name: str, frame: images.DecodedImage, options: BaseModel, deadline: float) -> Any:
        """`run_frame` without waiting: a future (`result(timeout)`, `cancel()`); a caller keeps several in flight."""
        prepared = self.runner(name).prepare(frame, options)
        return self.batcher(name).submit(prepared, remaining(deadline))

    def run_bytes(self, name: str, data: bytes | Path, options: BaseModel, deadline: float) -> Any:
        return self.run_frame(name, self.decode_for(name, data), options, deadline)

    def on_runner(self, name: str, fn: Callable[[Any], Any], deadline: float) -> Any:
        """`fn(runner)` on one of the task's workers (work that is not the task's own batch: enrolment, face match)."""
        return self.batcher(name)(OnRunner(fn), remaining(deadline))

    # -- detection

    def decode(self, source: bytes | Path, full_size: bool = False) -> images.DecodedImage:
        return self.pipeline.decode(source, full_size=full_size)

    def detect_frame(self, frame: images.DecodedImage, request: DetectRequest, deadline: float) -> Detections:
        return self.run_frame(DETECT, frame, request.params(), deadline)

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
                future = self.submit(DETECT, frame, request.params(), deadline)
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

    # -- faces and the person classifier

    def run_model(self, call: Callable[[], Any], deadline: float) -> Any:
        """A call that has no task of its own (a detector other than the configured one), one at a time."""
        if self._calls is None:
            raise NotActivated("the server is still loading its models")
        return self._calls(call, remaining(deadline))

    @property
    def recognizer(self) -> Any:
        """A face worker's FaceRecognizer, for what needs no model run (the gallery it shares with the others)."""
        return self.runner(FACES).recognizer

    def label_entries(self, entries: Sequence[ImageResult], deadline: float) -> list[ImageResult]:
        """The seed's detect_faces: echo every entry; on entries with a person, add face/faceProba to each label,
        by the face pipeline or the whole-person classifier as `[recognize] by` says."""
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
        labelled = self.label_persons(frame, dets, entry.image, deadline)
        return ImageResult(entry.image, labelled, frame.width, frame.height)

    @property
    def labelling_task(self) -> str:
        """The task detect_faces names persons with."""
        return CLASSIFY if self.config.recognize.by == "person_classifier" else FACES

    def label_persons(self, frame: images.DecodedImage, detections: Detections, source: str, deadline: float
                      ) -> Detections:
        wall = wall_clock(deadline)  # the runner may be a Ray replica on another machine
        if self.labelling_task == CLASSIFY:
            return self.on_runner(CLASSIFY, lambda r: r.classifier.label_persons(
                frame, detections, r.min_proba, from_wall_clock(wall)), deadline)
        return self.on_runner(FACES, lambda r: r.recognizer.label_persons(
            frame, detections, source, from_wall_clock(wall)), deadline)


def load_runners(task: TaskDef, context: Callable[[int], TaskContext], workers: int) -> list[Any]:
    """The task's runners, one per worker (the first one repeated where it is re-entrant); NotActivated with the
    reason when a model is missing or damaged or a library is not installed."""
    try:
        first = task.load(context(0))
        if task.shared or getattr(first, "reentrant", False):
            return [first] * workers
        return [first] + [task.load(context(i)) for i in range(1, workers)]
    except (ModelIntegrityError, NotFound, ImportError) as exc:
        raise NotActivated(f"{task.name} is not available: {exc}") from None


def load_remembered(name: str, load: Callable[[], T], failed: dict[str, tuple[float, str]]) -> T:
    """`load()`, its NotActivated remembered in `failed` for LOAD_RETRY_S, so calls in between are answered at once
    instead of each paying for another failed load."""
    found = failed.get(name)
    if found is not None and time.monotonic() - found[0] < LOAD_RETRY_S:
        raise NotActivated(found[1])
    try:
        return load()
    except NotActivated as exc:
        failed[name] = (time.monotonic(), str(exc))
        raise


def _share_cores(config: VigilConfig) -> tuple[VigilConfig, int]:
    """Workers and threads per run. On a small busy CPU, one single-threaded run per core beats one run spread over
    all cores: no thread hand-offs or spinning inside a run, and decode overlaps inference (benchmarks/bench_serve.py).
    """
    cores = default_threads()
    workers = config.server.workers or cores
    share = max(1, cores // workers)
    update = {section: getattr(config, section).model_copy(update={"threads": share})
              for section in ("detect", "faces", "person") if not getattr(config, section).threads}
    return config.model_copy(update=update), workers


def wall_clock(deadline: float) -> float:
    """A deadline (time.monotonic, meaningful on this machine only) as wall-clock time, for work handed to a function
    that may run on another machine; `from_wall_clock` turns it back where the function runs."""
    return time.time() + deadline - time.monotonic()


def from_wall_clock(wall: float) -> float:
    return time.monotonic() + wall - time.time()


def remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimedOut("the request timeout passed before the model could run")
    return left



class CustomModels:
    """Detectors other than the configured one, by store name, for /v1/vision/custom/<model>; loaded on first use
    and run one at a time through the engine's queue for calls (a rarely used path gains nothing from a batcher)."""

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
