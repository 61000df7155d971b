"""The one way to run a task: every front end (HTTP /v1 and /v2, zerorpc, the CLI, the watcher, `vigil batch`, the
page, the facade) holds an `Executor` and asks it for tasks by name.

The steps are LitServe's: decode (`decode_for`, reduced where the task allows), `prepare` (the caller's thread,
numpy only), the model run (`run_batch`, where the backend puts it), `encode` (formats/, the caller). A request's
deadline covers all of them; a task that needs another's result (classify the persons the detector found, count
the people it found) gets it through `TaskContext.run` within that same deadline, once per frame.

Backends (execute/local.py, execute/on_ray.py) differ only in where runners live and how calls reach them:
`submit` (a task on one frame, a future) and `on_runner` (work on a loaded runner: a task's named operations).
Everything else here is written once on top of those two.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from pathlib import Path
from typing import Any, Protocol, Self

from pydantic import BaseModel

from vigil.config.settings import VigilConfig
from vigil.errors import BadInput, NotActivated, NotFound, TimedOut, VigilError
from vigil.execute.metrics import Metrics
from vigil.imaging import images
from vigil.registry.labels import PERSON
from vigil.registry.store import ModelStore
from vigil.results import CLASS_NAME, Detections, ImageResult
from vigil.tasks.base import TaskDef, current_deadline, deadline_scope, get, wall_clock
from vigil.tasks.detect import DetectParams
from vigil.tasks.discover import discover

log = logging.getLogger(__name__)
DETECT = "detect"  # the task readiness is judged by, and whose failure to load stops the server
FACES, CLASSIFY = "faces", "classify"  # the tasks the seed's detect_faces labels persons with


class Pending(Protocol):
    """A task's result on its way (a concurrent Future, or a Ray response)."""

    def result(self, timeout: float | None = None) -> Any: ...

    def cancel(self) -> bool | None: ...


class Executor(ABC):
    def __init__(self, config: VigilConfig, store: ModelStore | None = None) -> None:
        self.config = config
        self.store = store or ModelStore(config.store.home)
        self.limits = config.limits.image_limits()
        self.metrics = Metrics()
        self.ready = False
        discover()

    # -- what a backend provides

    @abstractmethod
    def load(self, name: str) -> None:
        """Make task `name` ready (its runners loaded); NotActivated with the reason when it cannot be."""

    @abstractmethod
    def submit(self, name: str, frame: images.DecodedImage, options: BaseModel, deadline: float) -> Pending:
        """Task `name` on one decoded frame, without waiting: a future of its typed result."""

    @abstractmethod
    def on_runner(self, name: str, fn: Callable[[Any], Any], deadline: float) -> Any:
        """`fn(runner)` on one of the task's loaded runners (work that is not the task's own batch)."""

    @property
    @abstractmethod
    def recognizer(self) -> Any:
        """What front ends read of the faces task outside a model run (its gallery)."""

    def close(self) -> None:
        self.ready = False

    @property
    def accepting(self) -> bool:
        """Ready, and room for work (what a load balancer should route on)."""
        return self.ready

    def unavailable(self) -> str | None:
        """Why a store the routes need cannot be reached now (a PostgreSQL gallery gone away), else None."""
        return None

    # -- life cycle

    def setup(self, preload: bool = False) -> Self:
        """Load the detector now; with `preload` (a server) also every task whose TaskDef asks for it, so the first
        call does not pay for it. One that cannot load leaves its routes answering 403 with the reason."""
        self.load(DETECT)
        if preload:
            for task in self.tasks().values():
                if task.name != DETECT and task.preload(self.config):
                    try:
                        self.load(task.name)
                    except NotActivated as exc:
                        log.warning("not loaded", extra={"what": task.name, "reason": str(exc)})
        self.ready = True
        return self

    @staticmethod
    def tasks() -> dict[str, TaskDef]:
        return discover()

    def deadline(self) -> float:
        return time.monotonic() + self.config.server.request_timeout_s

    @property
    def retry_after_s(self) -> int:
        return self.config.server.retry_after_s

    # -- running tasks

    def run(self, name: str, frame: images.DecodedImage, options: BaseModel, deadline: float) -> Any:
        """Task `name` on one decoded frame, its typed result within the deadline."""
        return wait(self.submit(name, frame, options, deadline), deadline, name)

    def run_many(self, name: str, frames: Sequence[images.DecodedImage], options: BaseModel, deadline: float
                 ) -> list[Any]:
        """Task `name` on several frames at once (they may share session runs): each one's result, or the
        VigilError that frame alone failed with."""
        pending = []
        for frame in frames:
            try:
                pending.append(self.submit(name, frame, options, deadline))
            except VigilError as exc:
                pending.append(done(lambda exc=exc: _raise(exc)))
        return [_outcome(lambda p=p: wait(p, deadline, name)) for p in pending]

    def run_bytes(self, name: str, data: bytes | Path, options: BaseModel, deadline: float) -> Any:
        return self.run(name, self.decode_for(name, data), options, deadline)

    def call(self, name: str, operation: str, *args: Any, deadline: float) -> Any:
        """A task's named operation (TaskDef.operations: enrol, match, label …) on one of its runners."""
        task = get(name)
        if operation not in task.operations:
            raise NotFound(f"task {name!r} has no operation {operation!r}")
        return self.on_runner(name, partial(task.operations[operation], *args), deadline)

    def nested(self, name: str, frame: images.DecodedImage, options: BaseModel, deadline: float | None = None) -> Any:
        """TaskContext.run: one task running another, inside the caller's deadline (not a fresh one)."""
        return self.run(name, frame, options, deadline or current_deadline() or self.deadline())

    def prepared(self, runner: Any, frame: images.DecodedImage, options: BaseModel, deadline: float) -> Any:
        """`runner.prepare` in the caller's thread, where a task it needs sees the caller's deadline."""
        with deadline_scope(deadline):
            return runner.prepare(frame, options)

    # -- decoding

    def decode_for(self, name: str, source: bytes | Path, full_size: bool = False) -> images.DecodedImage:
        """Decoded as the task wants it: reduced to its `decode_side` where it has one, else full size."""
        side = None if full_size else get(name).decode_side(self.config)
        return images.load(source, self.limits, fit=(side, side) if side else None)

    def decode(self, source: bytes | Path, full_size: bool = False) -> images.DecodedImage:
        """As the detector wants it (reduced while decoding), or at full size for crops and annotation."""
        return self.decode_for(DETECT, source, full_size)

    def resolve(self, path: str) -> Path:
        """A client's path on this machine, inside the media roots (BadInput otherwise)."""
        roots = self.config.media.roots
        if not roots:
            raise BadInput(f"{path}: no media roots are configured, so no path may be read ([media] roots)")
        return images.resolve_media_path(path, roots, self.config.rpc.mount_point)

    # -- detection, as every front end asks for it

    def detect_frame(self, frame: images.DecodedImage, params: DetectParams | None = None,
                     deadline: float | None = None) -> Detections:
        return self.run(DETECT, frame, params or DetectParams(), deadline or self.deadline())

    def detect_bytes(self, data: bytes, name: str, params: DetectParams, deadline: float, full_size: bool = False
                     ) -> tuple[ImageResult, images.DecodedImage]:
        """Objects in one uploaded image; BadInput for anything that is not a usable image."""
        frame = self.decode(data, full_size=full_size)
        return ImageResult(name, self.detect_frame(frame, params, deadline), frame.width, frame.height), frame

    def detect(self, source: str | Path | bytes, name: str = "", params: DetectParams | None = None,
               full_size: bool = False) -> tuple[ImageResult, images.DecodedImage | None]:
        """Objects in one image file or encoded image; bad input becomes an ImageResult with `error` (CLI, batch)."""
        name = name or (str(source) if not isinstance(source, bytes) else "")
        try:
            frame = self.decode(source if isinstance(source, bytes) else Path(source), full_size=full_size)
        except VigilError as exc:
            return ImageResult(image=name, error=str(exc)), None
        found = self.detect_frame(frame, params or DetectParams(), self.deadline())
        return ImageResult(name, found, frame.width, frame.height), frame

    # -- who the persons are

    @property
    def labelling_task(self) -> str:
        """The task that names persons: the face pipeline or the whole-person classifier ([recognize] by)."""
        return CLASSIFY if self.config.recognize.by == "person_classifier" else FACES

    def label_persons(self, frame: images.DecodedImage, detections: Detections, source: str, deadline: float
                      ) -> Detections:
        """`face` / `faceProba` on each person box, by the labelling task's `label` operation."""
        return self.call(self.labelling_task, "label", frame, detections, source, wall_clock(deadline),
                         deadline=deadline)


def has_person(detections: Detections) -> bool:
    names = detections.data.get(CLASS_NAME)
    return names is not None and bool((names == PERSON).any())


def _raise(exc: Exception) -> Any:
    raise exc


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except VigilError as exc:
        return exc


def wait(pending: Pending, deadline: float, what: str) -> Any:
    """A pending result within the deadline; TimedOut (and the work cancelled) when it does not come in time."""
    try:
        return pending.result(timeout=remaining(deadline))
    except (FutureTimeout, TimeoutError):
        pending.cancel()
        raise TimedOut(f"{what}: no result within the request timeout") from None


def done(fn: Callable[[], Any]) -> Future:
    """`fn()` run now, as a finished future (its exception inside, as a pool's would be)."""
    future: Future = Future()
    try:
        future.set_result(fn())
    except Exception as exc:
        future.set_exception(exc)
    return future


def remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimedOut("the request timeout passed before the model could run")
    return left
