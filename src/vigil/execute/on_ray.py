"""The executor on Ray Serve (the `scale` extra): one deployment per registered task, named after it, each replica
holding its task's runner; `RayExecutor` is what the ingress (serve/on_ray.py) and its routes hold instead of an
in-process backend.

A call is either a frame with the task's options (`run`: the runner's `prepare`, then its `run_batch` in a batch
formed by Serve's @serve.batch where the in-process engine has its micro-batcher: at most the TaskDef's `max_batch`
or `[ray] max_batch_size`, waiting `[ray] batch_wait_s`) or work on the runner itself (`on_runner`: a task's named
operations). A replica loads its runner when it starts. One that cannot (a missing model, a library not installed)
answers every call with NotActivated and the reason, as in-process, and tries again after LOAD_RETRY_S. A runner
that is not re-entrant (LiteRT, dlib) runs one call at a time. An error raised in a replica reaches the caller as
its own type (not Ray's wrapper), so answers and errors match. The gallery is shared through its database.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial
from typing import Any

from pydantic import BaseModel
from ray import serve
from ray.exceptions import RayTaskError

from vigil.config.settings import VigilConfig
from vigil.errors import NotActivated, TimedOut, VigilError
from vigil.execute.batching import Failed, isolate
from vigil.execute.executor import FACES, Executor, remaining
from vigil.execute.local import load_remembered, load_runners
from vigil.imaging.images import DecodedImage
from vigil.registry.store import ModelStore
from vigil.tasks.base import TaskContext, TaskDef, current_deadline, deadline_scope, from_wall_clock, get, wall_clock
from vigil.tasks.discover import discover

log = logging.getLogger(__name__)
APP = "vigil"
ASK_S = 2.0  # readiness waits this long for a faces replica's word on the gallery


def _answer(response: Any, timeout_s: float) -> Any:
    """A replica's answer; its own exception when it raised one (TimeoutError when none came in time)."""
    try:
        return response.result(timeout_s=timeout_s)
    except RayTaskError as exc:
        if isinstance(exc.cause, Exception):
            raise exc.cause from None
        raise


def _call(method: Any, deadline: float, *args: Any) -> Any:
    """`method.remote(*args)` on a deployment, answered within the request's deadline (nothing is sent past it)."""
    left = remaining(deadline)
    response = method.remote(*args)
    try:
        return _answer(response, left)
    except TimeoutError:
        response.cancel()
        raise TimedOut(f"no answer from the model replicas within {left:.1f} s") from None


class _Pending:
    """A frame sent to a deployment, read as the in-process engine's futures are (`result(timeout)`, `cancel()`)."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def result(self, timeout: float) -> Any:
        return _answer(self._response, timeout)

    def cancel(self) -> None:
        self._response.cancel()


@functools.cache
def _deployment(name: str) -> Any:
    """A handle to task `name`'s deployment, from inside the application (a task running another)."""
    return serve.get_deployment_handle(name, APP)


@serve.deployment
class TaskReplica:
    """One registered task in a replica: its runner, with Serve's batching in front of `run_batch`."""

    def __init__(self, settings: dict[str, Any], name: str) -> None:
        self.config = VigilConfig.model_validate(settings)
        self.task: TaskDef = discover()[name]
        self._runner: Any = None
        self._failed: dict[str, tuple[float, str]] = {}
        self._loading, self._one_at_a_time = threading.Lock(), threading.Lock()
        self.batched.set_max_batch_size(self.task.max_batch or self.config.ray.max_batch_size)
        self.batched.set_batch_wait_timeout_s(self.config.ray.batch_wait_s)
        try:
            self.runner()
        except NotActivated as exc:  # the calls answer 403 with the reason, as in-process
            log.warning("not loaded", extra={"what": name, "reason": str(exc)})

    def runner(self) -> Any:
        """The loaded runner (NotActivated while it cannot load; tried again after LOAD_RETRY_S)."""
        with self._loading:
            if self._runner is None:
                self._runner = load_remembered(self.task.name, self._load, self._failed)
            return self._runner

    def _load(self) -> Any:
        threads = max(1, int(self.config.ray.replica_cpus))
        context = TaskContext(self.config, ModelStore(self.config.store.home), threads=threads, run=self._run_task)
        for need in self.task.needs:  # a replica of a needed task may start later; calls to it wait for it
            get(need)
        return load_runners(self.task, lambda worker: context, 1)[0]

    def _run_task(self, name: str, frame: DecodedImage, options: BaseModel, deadline: float | None = None) -> Any:
        """TaskContext.run: another task in its own deployment (classify asks `detect` for the persons), within the
        deadline of the call being prepared."""
        deadline = deadline or current_deadline() or time.monotonic() + self.config.server.request_timeout_s
        return _call(_deployment(name).run, deadline, frame, options, wall_clock(deadline))

    def _with_runner(self, fn: Callable[[Any], Any]) -> Any:
        runner = self.runner()
        reentrant = self.task.shared or getattr(runner, "reentrant", False)
        with nullcontext() if reentrant else self._one_at_a_time:
            return fn(runner)

    async def run(self, frame: DecodedImage, options: BaseModel, wall: float) -> Any:
        """The task on one decoded frame: `prepare` on its own (a task it needs runs within the caller's deadline,
        sent as wall-clock time), the model run in a batch with other requests'."""

        def prepare() -> Any:
            with deadline_scope(from_wall_clock(wall)):
                return self.runner().prepare(frame, options)

        prepared = await asyncio.to_thread(prepare)
        outcome = await self.batched(prepared)
        if isinstance(outcome, Failed):
            raise outcome.error
        return outcome

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.005)  # set per task in __init__
    async def batched(self, items: list[Any]) -> list[Any]:
        return await asyncio.to_thread(self._with_runner, lambda runner: isolate(runner.run_batch, items))

    async def on_runner(self, fn: Callable[[Any], Any]) -> Any:
        """`fn(runner)` on this replica's runner: work that is not the task's own batch."""
        return await asyncio.to_thread(self._with_runner, fn)


class RemoteRecognizer:
    """What the app reads of the faces task's FaceRecognizer outside a model run: its gallery (opened here, shared
    through its database); a method call runs on a `faces` replica's recognizer."""

    def __init__(self, engine: RayExecutor) -> None:
        self._engine, self._gallery = engine, None

    @property
    def gallery(self) -> Any:
        if self._gallery is None:
            from vigil.faces.gallery.location import open_gallery

            self._gallery = open_gallery(self._engine.config.gallery_path())
        return self._gallery

    def __getattr__(self, method: str) -> Any:
        engine = self._engine
        return lambda *args: engine.on_runner(FACES, partial(_recognizer_call, method, args), engine.deadline())


def _recognizer_call(method: str, args: tuple, runner: Any) -> Any:
    return getattr(runner.recognizer, method)(*args)


class RayExecutor(Executor):
    """The executor on Ray Serve, holding no model: frames and runner work go to the tasks' deployments (handles
    bound by the application)."""

    def __init__(self, config: VigilConfig, tasks: dict[str, Any]) -> None:
        super().__init__(config)
        self._tasks = tasks
        self._recognizer = RemoteRecognizer(self)

    @classmethod
    def in_app(cls, config: VigilConfig) -> RayExecutor:
        """One over the deployments of the running application, for a process outside it (a camera actor, the
        `vigil serve --ray` process's event service)."""
        return cls(config, {name: _deployment(name) for name in discover()})

    def load(self, name: str) -> None:
        self.deployment(name)  # a replica loads its runner when it starts

    def setup(self, preload: bool = False) -> RayExecutor:
        self.ready = True
        return self

    def deployment(self, name: str) -> Any:
        get(name)  # NotFound, with close matches, for an unknown task
        return self._tasks[name]

    def submit(self, name: str, frame: DecodedImage, options: BaseModel, deadline: float) -> _Pending:
        remaining(deadline)
        return _Pending(self.deployment(name).run.remote(frame, options, wall_clock(deadline)))

    def on_runner(self, name: str, fn: Callable[[Any], Any], deadline: float) -> Any:
        return _call(self.deployment(name).on_runner, deadline, fn)

    @property
    def recognizer(self) -> Any:
        return self._recognizer

    def unavailable(self) -> str | None:
        """Why the gallery's database cannot be reached, as a faces replica finds it (/ready's 503). Asked only
        where faces replicas run from the start (a readiness probe must not start one); a replica that does not
        answer within ASK_S, or faces not loaded, says nothing here: the face routes answer for themselves."""
        if not self.config.ray.min_replicas or not get(FACES).preload(self.config):
            return None
        try:
            return self.on_runner(FACES, _gallery_unavailable, time.monotonic() + ASK_S)
        except VigilError:
            return None


def _gallery_unavailable(runner: Any) -> str | None:
    return getattr(getattr(runner.recognizer, "gallery", None), "unavailable", None)
