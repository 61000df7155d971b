"""`vigil serve --ray [--ray-address ADDRESS]`: the same FastAPI app on Ray Serve (the `scale` extra).

One deployment per registered task, named after it (`detect`, `faces`, `classify`, `presence`, `crowd`, and any a
plugin registers), and an `ingress` that runs create_app (the very routes, keys, limits and error mapping of
`vigil serve`) over a RayEngine. The ingress holds no model: it decodes, as the request's thread does in-process, and
sends every model run to its task's deployment, either a frame with the task's options (`run`: the runner's
`prepare`, then its `run_batch` in a batch formed by Serve's @serve.batch where the in-process engine has its
micro-batcher: at most the TaskDef's `max_batch` or `[ray] max_batch_size`, waiting `[ray] batch_wait_s`) or work on
the runner itself (`on_runner`: face detection, enrolment and matching, persons labelled by the face recogniser or
the person classifier).

A replica loads its task's runner when it starts. One that cannot (a missing model, a library not installed) answers
every call with NotActivated and the reason, as the in-process routes do, and tries again after LOAD_RETRY_S; the app
deploys all the same. A runner that is not re-entrant (LiteRT, dlib) runs one call at a time. Each deployment is
autoscaled between `[ray] min_replicas` and `max_replicas` at `target_ongoing_requests`, each replica reserving
`replica_cpus` (and running that many inference threads); a task the in-process server loads on first use
(TaskDef.preload false) starts at no replica and gets one at its first request. An error raised in a replica reaches
the app as its own type (not Ray's wrapper), so answers and errors match. The gallery is shared through its database:
SQLite on one machine, PostgreSQL across nodes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import ray
from pydantic import BaseModel
from ray import serve
from ray.exceptions import RayTaskError

from vigil.config import VigilConfig
from vigil.discover import discover
from vigil.errors import NotActivated, TimedOut
from vigil.images import DecodedImage
from vigil.ray_cluster import connect, portable
from vigil.registry.store import ModelStore
from vigil.serve.batching import Failed, isolate
from vigil.serve.engine import FACES, Engine, load_remembered, load_runners, remaining
from vigil.serve.http import create_app
from vigil.serve.run import check_bind
from vigil.tasks.base import TaskContext, TaskDef, get

log = logging.getLogger(__name__)
APP = "vigil"


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
        return load_runners(self.task, lambda worker: context, 1)[0]

    def _run_task(self, name: str, frame: DecodedImage, options: BaseModel) -> Any:
        """TaskContext.run: another task in its own deployment (classify asks `detect` for the persons)."""
        deadline = time.monotonic() + self.config.server.request_timeout_s
        return _call(_deployment(name).run, deadline, frame, options)

    def _with_runner(self, fn: Callable[[Any], Any]) -> Any:
        runner = self.runner()
        reentrant = self.task.shared or getattr(runner, "reentrant", False)
        with nullcontext() if reentrant else self._one_at_a_time:
            return fn(runner)

    async def run(self, frame: DecodedImage, options: BaseModel) -> Any:
        """The task on one decoded frame: `prepare` on its own, the model run in a batch with other requests'."""
        prepared = await asyncio.to_thread(lambda: self.runner().prepare(frame, options))
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

    def __init__(self, engine: RayEngine) -> None:
        self._engine, self._gallery = engine, None

    @property
    def gallery(self) -> Any:
        if self._gallery is None:
            from vigil.faces.gallery.location import open_gallery

            self._gallery = open_gallery(self._engine.config.gallery_path())
        return self._gallery

    def __getattr__(self, method: str) -> Any:
        engine = self._engine
        return lambda *args: engine.on_runner(FACES, lambda r: getattr(r.recognizer, method)(*args), engine.deadline())


class RayEngine(Engine):
    """The Engine the app expects, holding no model: frames and runner work go to the tasks' deployments."""

    def __init__(self, config: VigilConfig, tasks: dict[str, Any]) -> None:
        super().__init__(config)
        self._tasks = tasks
        self._recognizer = RemoteRecognizer(self)

    def setup(self, preload: bool = False) -> RayEngine:
        self.ready = True
        return self

    def close(self) -> None:
        self.ready = False

    @property
    def accepting(self) -> bool:
        return self.ready

    def deployment(self, name: str) -> Any:
        get(name)  # NotFound, with close matches, for an unknown task
        return self._tasks[name]

    def batcher(self, name: str) -> Any:
        raise RuntimeError(f"{name}: on Ray a task runs in its deployment; the ingress loads no model")

    def run_frame(self, name: str, frame: DecodedImage, options: BaseModel, deadline: float) -> Any:
        return _call(self.deployment(name).run, deadline, frame, options)

    def submit(self, name: str, frame: DecodedImage, options: BaseModel, deadline: float) -> _Pending:
        remaining(deadline)
        return _Pending(self.deployment(name).run.remote(frame, options))

    def on_runner(self, name: str, fn: Callable[[Any], Any], deadline: float) -> Any:
        return _call(self.deployment(name).on_runner, deadline, fn)

    def run_model(self, call: Any, deadline: float) -> Any:
        remaining(deadline)
        return call()  # a detector other than the configured one (/v1/vision/custom/<model>) runs here

    @property
    def recognizer(self) -> Any:
        return self._recognizer


@serve.deployment(name="ingress", ray_actor_options={"num_cpus": 0})
@serve.ingress()
class Ingress:
    def __init__(self, settings: dict[str, Any], tasks: dict[str, Any]) -> None:
        self.engine = RayEngine(VigilConfig.model_validate(settings), tasks).setup()

    def __serve_build_asgi_app__(self) -> Any:
        return create_app(self.engine)


def application(config: VigilConfig) -> Any:
    """The bound Serve application: ingress → one deployment per registered task."""
    settings = portable(config.model_dump(mode="json"))
    tasks = {name: TaskReplica.options(name=name, **_task_options(config, task)).bind(settings, name)
             for name, task in discover().items()}
    return Ingress.options(autoscaling_config=_scaling(config, config.ray.min_replicas)).bind(settings, tasks)


def _scaling(config: VigilConfig, min_replicas: int) -> dict[str, Any]:
    r = config.ray
    return {"min_replicas": min_replicas, "max_replicas": r.max_replicas,
            "target_ongoing_requests": r.target_ongoing_requests}


def _task_options(config: VigilConfig, task: TaskDef) -> dict[str, Any]:
    """Autoscaled per `[ray]`; a task loaded on first use in-process starts at no replica here."""
    least = config.ray.min_replicas if task.preload(config) else 0
    return {"autoscaling_config": _scaling(config, least), "ray_actor_options": {"num_cpus": config.ray.replica_cpus}}


def start(config: VigilConfig, address: str) -> None:
    """Deploy on the cluster at `address` and return once every deployment is up."""
    check_bind(config)
    connect(address)
    serve.start(http_options={"host": config.server.host, "port": config.server.port})
    serve.run(application(config), name=APP, route_prefix="/")
    log.info("serving on Ray", extra={"url": f"http://{config.server.host}:{config.server.port}"})


def stop() -> None:
    serve.delete(APP)


def serve_on_ray(config: VigilConfig, address: str) -> None:
    """`vigil serve --ray`: deploy, then wait for SIGTERM or SIGINT, take the application down and disconnect
    (a local cluster started here goes with it)."""
    start(config, address)  # ray.init installs a SIGTERM handler of its own: ours replace it afterwards
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        stop()
        ray.shutdown()
        log.info("stopped")
