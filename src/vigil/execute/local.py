"""The executor's backends in this process: `Engine` (worker threads, one micro-batcher per task: `vigil serve`,
`vigil watch`, the batch pool) and `Inline` (the caller's thread, no queue: the CLI, the facade, tests).

Tasks load on first use (or at `setup`), with their runners from `load_runners`: one per worker unless the runner is
re-entrant (an onnxruntime session), so no LiteRT interpreter or dlib detector sees two threads; threads per run
come from the one policy in execute/threads.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, TypeVar

from pydantic import BaseModel

from vigil.config.settings import VigilConfig
from vigil.errors import ModelIntegrityError, NotActivated, NotFound, VigilError
from vigil.execute.batching import Failed, MicroBatcher, OnRunner, isolate
from vigil.execute.executor import DETECT, FACES, Executor, Pending, done, remaining
from vigil.execute.threads import ThreadPlan, plan
from vigil.imaging.images import DecodedImage
from vigil.registry.store import ModelStore
from vigil.tasks.base import TaskContext, TaskDef, get

LOAD_RETRY_S = 60.0  # a task whose models failed to load is tried again after this long, not on every call
T = TypeVar("T")


class Loaded:
    """A task's runners: one per worker (the same object repeated when re-entrant), and the `lone` runner with
    every core for a request that has the machine to itself (None where workers do not share cores)."""

    def __init__(self, runners: list[Any], lone: Any = None) -> None:
        self.runners, self.lone = runners, lone

    @property
    def first(self) -> Any:
        return self.runners[0]


class LocalExecutor(Executor):
    """What both in-process backends share: the thread plan and loading tasks with their needs, once each."""

    def __init__(self, config: VigilConfig, store: ModelStore | None = None, workers: int | None = None,
                 share: int | None = None) -> None:
        super().__init__(config, store)
        self.plan: ThreadPlan = plan(config, workers, share)
        self.workers = self.plan.workers
        self._loaded: dict[str, Loaded] = {}
        self._failed: dict[str, tuple[float, str]] = {}  # task -> (when, why) its models last failed to load
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def load(self, name: str) -> None:
        self.loaded(name)

    def loaded(self, name: str) -> Loaded:
        found = self._loaded.get(name)
        if found is not None:
            return found
        task = get(name)  # NotFound, with close matches, for an unknown task
        for need in task.needs:
            self.loaded(need)
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if name not in self._loaded:
                self.use(name, load_remembered(name, lambda: self._load(task), self._failed))
        return self._loaded[name]

    def use(self, name: str, loaded: Loaded | Sequence[Any]) -> None:
        """Serve task `name` with these loaded runners (a Loaded, or one runner per worker)."""
        self._loaded[name] = loaded if isinstance(loaded, Loaded) else Loaded(list(loaded))

    def runner(self, name: str) -> Any:
        """A loaded runner of the task, for the caller-thread steps (`prepare`: numpy only, safe on any runner)."""
        return self.loaded(name).first

    @property
    def recognizer(self) -> Any:
        """A face runner's FaceRecognizer, for what needs no model run (the gallery it shares with the others)."""
        return self.runner(FACES).recognizer

    def unavailable(self) -> str | None:
        faces = self._loaded.get(FACES)  # read, never loaded here: readiness must not load a task
        gallery = getattr(getattr(faces.first, "recognizer", None), "gallery", None) if faces else None
        return getattr(gallery, "unavailable", None)

    def _load(self, task: TaskDef) -> Loaded:
        shared: dict[str, Any] = {}
        threads = self.plan.threads(self.config, task.section)

        def context(worker: int, threads: int = threads) -> TaskContext:
            return TaskContext(self.config, self.store, threads=threads, run=self.nested, worker=worker,
                               shared=shared)

        runners = load_runners(task, context, self.workers)
        reentrant = task.shared or getattr(runners[0], "reentrant", False)
        own = getattr(getattr(self.config, task.section, None), "threads", 0) if task.section else 0
        lone = None
        if reentrant and self.plan.lone and not own:
            lone = load_runners(task, lambda worker: context(worker, self.plan.cores), 1)[0]
        return Loaded(runners, lone)


class Engine(LocalExecutor):
    """Worker threads: one bounded micro-batcher per task, whose workers take what piled up as one batch."""

    def __init__(self, config: VigilConfig, store: ModelStore | None = None, workers: int | None = None) -> None:
        super().__init__(config, store, workers)
        self._batchers: dict[str, MicroBatcher] = {}

    def close(self) -> None:
        super().close()
        for batcher in list(self._batchers.values()):
            batcher.close()

    @property
    def accepting(self) -> bool:
        queue = self._batchers.get(DETECT)
        return self.ready and queue is not None and queue.depth < self.config.server.queue_size

    def use(self, name: str, loaded: Loaded | Sequence[Any]) -> None:
        loaded = loaded if isinstance(loaded, Loaded) else Loaded(list(loaded))
        task, server = get(name), self.config.server
        batcher = MicroBatcher(name, max_batch=task.max_batch or server.max_batch, queue_size=server.queue_size,
                               retry_after_s=server.retry_after_s, observer=self.metrics, runners=loaded.runners,
                               lone=loaded.lone)
        self.metrics.task_models[name] = task.model_label(self.config)
        self.metrics.watch_queue(name, lambda: batcher.depth)
        old = self._batchers.get(name)
        super().use(name, loaded)
        self._batchers[name] = batcher
        if old is not None:
            old.close()

    def batcher(self, name: str) -> MicroBatcher:
        """The task's batcher, loading its runners on first use (NotActivated when they cannot load)."""
        self.loaded(name)
        return self._batchers[name]

    def submit(self, name: str, frame: DecodedImage, options: BaseModel, deadline: float) -> Pending:
        prepared = self.prepared(self.runner(name), frame, options, deadline)
        return self.batcher(name).submit(prepared, remaining(deadline))

    def on_runner(self, name: str, fn: Callable[[Any], Any], deadline: float) -> Any:
        return self.batcher(name)(OnRunner(fn), remaining(deadline))


class Inline(LocalExecutor):
    """The caller's thread runs everything: one runner per task with every core, no queue. A runner that is not
    re-entrant runs one call at a time."""

    def __init__(self, config: VigilConfig, store: ModelStore | None = None, share: int | None = None) -> None:
        """`share`: how many processes like this one share the cores (a batch pool; None: this one has them all)."""
        super().__init__(config, store, workers=1, share=share)
        self._running: dict[str, threading.Lock] = {}

    def submit(self, name: str, frame: DecodedImage, options: BaseModel, deadline: float) -> Pending:
        runner = self.runner(name)
        prepared = self.prepared(runner, frame, options, deadline)
        remaining(deadline)
        return done(lambda: self._one_at_a_time(name, lambda: runner.run_batch([prepared])[0]))

    def run_many(self, name: str, frames: Sequence[DecodedImage], options: BaseModel, deadline: float
                 ) -> list[Any]:
        """One `run_batch` for every frame that prepared: frames of one shape share the detector's session runs."""
        runner = self.runner(name)
        prepared: list[Any] = []
        for frame in frames:
            try:
                prepared.append(self.prepared(runner, frame, options, deadline))
            except VigilError as exc:
                prepared.append(exc)
        ready = [i for i, p in enumerate(prepared) if not isinstance(p, VigilError)]
        results = self._one_at_a_time(name, lambda: isolate(runner.run_batch, [prepared[i] for i in ready]))
        for i, result in zip(ready, results, strict=True):
            prepared[i] = result.error if isinstance(result, Failed) else result
        return [p if not isinstance(p, Exception) or isinstance(p, VigilError) else VigilError(str(p))
                for p in prepared]

    def on_runner(self, name: str, fn: Callable[[Any], Any], deadline: float) -> Any:
        runner = self.runner(name)
        remaining(deadline)
        return self._one_at_a_time(name, lambda: fn(runner))

    def _one_at_a_time(self, name: str, fn: Callable[[], T]) -> T:
        runner = self.runner(name)
        reentrant = get(name).shared or getattr(runner, "reentrant", False)
        with nullcontext() if reentrant else self._running.setdefault(name, threading.Lock()):
            return fn()


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
