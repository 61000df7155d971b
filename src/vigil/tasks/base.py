"""The one contract every servable task implements, and the registry that names them.

A task is a module in `vigil/tasks/` that defines a module-level `TASK = TaskDef(...)`. The engine builds one
micro-batcher per registered task from it; the native `/v2/<route>` route, the CLI sub-command's JSON and the metrics
label come from it too. The steps follow LitServe's LitAPI: decode (the engine), `prepare` (the caller's thread),
`run_batch` (a batcher worker), `encode` (formats/, the caller's thread).

    TASK = TaskDef(
        name="presence",                     # registry key, metrics label ("task" label), default route /v2/presence
        summary="Is a person in the frame?",  # OpenAPI summary and CLI help
        options=PresenceOptions,             # pydantic model: form fields on /v2, --options on the CLI
        load=PresenceModel.load,             # (TaskContext) -> a Runner
        encode=native.presence,              # (image name, typed result) -> JSON-able dict
    )

Runners are not assumed re-entrant: unless `TaskDef.shared` is true or the loaded runner says `reentrant = True`
(an onnxruntime session), the engine loads one runner per worker thread (LiteRT interpreters, dlib detectors), so a
runtime that is not thread-safe never sees two threads. Built-in tasks are found by `vigil.tasks.discover`; nothing here
imports a task module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from vigil.config.settings import VigilConfig
from vigil.errors import NotFound
from vigil.imaging.images import DecodedImage
from vigil.registry.store import ModelStore
from vigil.runtimes.session import Session, open_session

Prepared = TypeVar("Prepared")
Result = TypeVar("Result")


class NoOptions(BaseModel):
    """Options of a task that takes none."""

    model_config = ConfigDict(extra="forbid")


class Runner(Protocol[Prepared, Result]):
    """A loaded task: models open, warmed up. `prepare` runs in the request's thread (cheap, numpy only);
    `run_batch` runs on a batcher worker and returns one result per input, in order."""

    def prepare(self, frame: DecodedImage, options: Any) -> Prepared: ...

    def run_batch(self, items: Sequence[Prepared]) -> list[Result]: ...


SessionFactory = Callable[..., Session]
TaskCall = Callable[..., Any]
"""`run(name, frame, options, deadline=None)`: another registered task on a frame, through the executor, within the
caller's deadline (`deadline` given, or the one of the request being prepared): how a task composes others."""

_deadline: ContextVar[float | None] = ContextVar("vigil_deadline", default=None)


@contextmanager
def deadline_scope(deadline: float) -> Iterator[None]:
    """While a request is prepared in its thread, the tasks it needs run within its deadline (TaskContext.run)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def current_deadline() -> float | None:
    """The deadline of the request being prepared in this thread (None outside one): a runner keeps it with the
    prepared item when it runs other tasks later, on a worker."""
    return _deadline.get()


def wall_clock(deadline: float) -> float:
    """A deadline (time.monotonic, meaningful on this machine only) as wall-clock time, for work handed to a function
    that may run on another machine; `from_wall_clock` turns it back where the function runs."""
    return time.time() + deadline - time.monotonic()


def from_wall_clock(wall: float) -> float:
    return time.monotonic() + wall - time.time()



def _no_other_tasks(name: str, frame: DecodedImage, options: BaseModel, deadline: float | None = None) -> Any:
    raise NotFound(f"task {name!r} cannot be run from here (no executor)")


@dataclass(frozen=True)
class TaskContext:
    """What a task's `load` gets: the config, the model store, its thread budget, and the session opener
    (injected, so tests can hand in a fake session and a runtime change is made in one place)."""

    config: VigilConfig
    store: ModelStore
    threads: int | None = None
    open_session: SessionFactory = open_session
    run: TaskCall = _no_other_tasks
    worker: int = 0  # which worker this runner is for (0 for a shared one)
    shared: dict[str, Any] = field(default_factory=dict)
    """State every worker's runner of one task shares (e.g. the face gallery): the same dict for each load."""


@dataclass(frozen=True)
class TaskDef(Generic[Prepared, Result]):
    name: str
    summary: str
    load: Callable[[TaskContext], Runner[Prepared, Result]]
    encode: Callable[[str, Result], dict[str, Any]]
    options: type[BaseModel] = NoOptions
    route: str = ""  # /v2/<route>; default: the name
    decode_side: Callable[[VigilConfig], int | None] = field(default=lambda config: None)
    """Long side the frame may be decoded down to (reduced JPEG decode); None: full size."""
    shared: bool = False  # True: one runner serves every worker (a re-entrant runtime)
    max_batch: int | None = None  # None: [server] max_batch
    models: Callable[[VigilConfig], tuple[str, ...]] = field(default=lambda config: ())
    """Store names of the models this task loads under this config (for `/v2/models` and `vigil models pull`);
    the first one is the `model` label of the task's metrics."""
    preload: Callable[[VigilConfig], bool] = field(default=lambda config: False)
    """Load at server start (a failure leaves the task answering 403 with the reason) instead of on first use."""
    tags: tuple[str, ...] = ()  # OpenAPI tags of the generated route (default: the name)
    available: Callable[[VigilConfig], bool] = field(default=lambda config: True)
    """Whether this config lets it run at all (classify needs [recognize] person_model): the page offers only these."""
    section: str = ""  # its config section ([detect] …): where its `threads` and other settings live
    needs: tuple[str, ...] = ()  # tasks whose results it asks for (TaskContext.run): loaded with it
    operations: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    """Named work on a loaded runner (`op(*args, runner)`; Executor.call): enrol, match, label …"""

    @property
    def path(self) -> str:
        return f"/v2/{self.route or self.name}"

    def model_label(self, config: VigilConfig) -> str:
        names = self.models(config)
        return names[0] if names else self.name


_TASKS: dict[str, TaskDef] = {}


def register(task: TaskDef) -> TaskDef:
    """Add a task (a built-in one on discovery, a plugin or a test's at any time). Re-registering a name replaces it."""
    _TASKS[task.name] = task
    return task


def unregister(name: str) -> None:
    _TASKS.pop(name, None)


def registered() -> dict[str, TaskDef]:
    return dict(_TASKS)


def get(name: str) -> TaskDef:
    try:
        return _TASKS[name]
    except KeyError:
        from difflib import get_close_matches

        close = get_close_matches(name, list(_TASKS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known tasks: {', '.join(sorted(_TASKS))}"
        raise NotFound(f"no task {name!r}{hint}") from None
