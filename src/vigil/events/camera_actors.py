"""`vigil serve --ray`'s live cameras (the `scale` extra): each `[cameras.<name>]` with a source runs in a Ray actor
of its own (`vigil-camera-<name>` in namespace `vigil`), spread over the cluster's nodes. The actor holds the camera's
CameraFeed, so its tracker, zones, lines and faces stay in that one process; the feed's models run in the task
deployments of the running Serve application, as the ingress's do.

The feed's outputs (MQTT messages, events, Home Assistant discovery, sightings) wait in the actor until the
`vigil serve --ray` process takes them (every DRAIN_EVERY_S) and hands them to its one EventService's callbacks,
exactly as an in-process feed calls them. Events get their ids from that process's event log, so the actor's
copies never have them: they are matched by (camera, track id). An actor that dies is reported, its camera goes
`offline` and its open events end; Ray starts it again (at most RESTARTS times), and the new feed starts over.
A camera whose source fails stops alone, as in-process. The ingress's Cameras view asks the actors themselves
(LiveCameras): their state, latest frame, and the shapes drawn on the page.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError

from vigil.config.cameras import CameraConfig
from vigil.config.settings import VigilConfig
from vigil.errors import Overloaded
from vigil.events.camera_feed import FeedOutputs, feed_to
from vigil.execute.executor import Executor
from vigil.execute.on_ray import RayExecutor
from vigil.execute.ray_cluster import portable
from vigil.formats import tracks as wire
from vigil.results import Event, EventChange

log = logging.getLogger(__name__)
NAMESPACE = "vigil"
DRAIN_EVERY_S = 0.2
ANSWER_S = 10.0  # a camera actor's answer to a state or stop call
RESTARTS = 3  # an actor whose process died is started again this often, then reported gone
PLACED_WITHIN_S = 30.0  # an actor that has not answered once by then is reported (no node with its CPUs free?)
OUTBOX_LIMIT = 10_000  # outputs an actor keeps for the driver (minutes of a busy camera at DRAIN_EVERY_S)


def actor_name(camera: str) -> str:
    return f"vigil-camera-{camera}"


class _Outbox:
    """A feed's outputs in order, until the driver takes them: (the FeedOutputs field, its arguments). Bounded: a
    driver that stops taking (stalled, or gone while Ray keeps the actor) costs the oldest outputs, counted and
    logged, never the actor's memory."""

    def __init__(self, limit: int = OUTBOX_LIMIT) -> None:
        # appends and pops are atomic: the feed's thread puts, the actor's method thread takes
        self._items: deque[tuple[str, tuple]] = deque(maxlen=limit)
        self.lost = 0

    def outputs(self) -> FeedOutputs:
        return FeedOutputs(send=lambda *args: self._put("send", args), emit=self._emit,
                           discover=lambda *args: self._put("discover", args),
                           sighted=lambda *args: self._put("sighted", args))

    def _put(self, kind: str, args: tuple) -> None:
        if len(self._items) == self._items.maxlen:
            self.lost += 1
            if self.lost == 1 or self.lost % 1000 == 0:
                log.warning("camera outputs not taken by the vigil process: the oldest are dropped",
                            extra={"dropped": self.lost})
        self._items.append((kind, args))

    def _emit(self, changes: list[EventChange]) -> None:
        # copies as they are now: the feed keeps changing its open events until the driver takes them
        self._put("emit", ([EventChange(c.type, replace(c.event)) for c in changes],))

    def take(self) -> list[tuple[str, tuple]]:
        taken = []
        while self._items:
            taken.append(self._items.popleft())
        return taken


@dataclass(frozen=True)
class Drained:
    """What a camera actor hands over: which start of it answers, its outputs since the last call, and why its feed
    stopped (None while it runs or when its source ended)."""

    run: str
    outputs: list[tuple[str, tuple]]
    error: str | None


@ray.remote
class CameraActor:
    """One camera's feed over the running application's task deployments."""

    def __init__(self, settings: dict[str, Any], name: str) -> None:
        config = VigilConfig.model_validate(settings)
        self._outbox, self._run = _Outbox(), uuid.uuid4().hex
        executor = RayExecutor.in_app(config).setup()
        self.feed = feed_to(self._outbox.outputs(), name, config.cameras[name], executor, config.mqtt.topic_prefix,
                            config.events.hold_s).start()

    def drain(self) -> Drained:
        return Drained(self._run, self._outbox.take(), self.feed.error)

    def state(self) -> dict[str, Any]:
        return self.feed.state()

    def frame(self) -> bytes | None:
        return self.feed.live.jpeg()

    def size(self) -> tuple[int, int] | None:
        return self.feed.live.size

    def camera(self) -> CameraConfig:
        return self.feed.camera

    def reshape(self, camera: CameraConfig) -> bool:
        return self.feed.reshape(camera)

    def where(self) -> dict[str, Any]:
        context = ray.get_runtime_context()
        return {"actor_id": context.get_actor_id(), "node_id": context.get_node_id(), "pid": os.getpid()}

    def stop(self) -> None:
        self.feed.stop()


class _EventIds:
    """The driver's event log gives events their ids; the actors' copies, matched by (camera, track id), take
    them. Also what is open per camera, to end when its actor dies."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, int | None], Event] = {}

    def adopt(self, changes: list[EventChange]) -> list[EventChange]:
        for change in changes:
            event, key = change.event, (change.event.camera, change.event.track_id)
            event.id = self.known(event).id
            if change.type == "end":
                self.open.pop(key, None)
            else:
                self.open[key] = event  # the log sets its id on this very object
        return changes

    def known(self, event: Event) -> Event:
        return self.open.get((event.camera, event.track_id), event)

    def end_camera(self, camera: str) -> list[EventChange]:
        """A dead actor's open events, ended where they were last seen (as its feed would have ended them)."""
        ended = [self.open.pop(key) for key in list(self.open) if key[0] == camera]
        return [EventChange("end", replace(event, count=0, end=event.last_seen)) for event in ended]


@dataclass
class RemoteFeed:
    """A camera actor, read as the page's Cameras view reads an in-process CameraFeed (http/cameras.py)."""

    name: str
    actor: Any

    def ask(self, method: str, *args: Any) -> Any:
        try:
            return ray.get(getattr(self.actor, method).remote(*args), timeout=ANSWER_S)
        except (RayActorError, GetTimeoutError) as exc:
            raise Overloaded(f"camera {self.name}: its actor does not answer ({type(exc).__name__})") from None

    def state(self) -> dict[str, Any]:
        return self.ask("state")

    def where(self) -> dict[str, Any]:
        return self.ask("where")

    def reshape(self, camera: CameraConfig) -> bool:
        return self.ask("reshape", camera)

    @property
    def camera(self) -> CameraConfig:
        return self.ask("camera")

    @property
    def live(self) -> _RemoteView:
        return _RemoteView(self)


class _RemoteView:
    """What the page reads of a camera actor's LiveView."""

    def __init__(self, feed: RemoteFeed) -> None:
        self._feed = feed

    def jpeg(self) -> bytes | None:
        return self._feed.ask("frame")

    @property
    def size(self) -> tuple[int, int] | None:
        return self._feed.ask("size")


class LiveCameras:
    """The camera actors, found by name, as the ingress's Cameras view lists feeds (`app.state.feeds`)."""

    def __init__(self, cameras: dict[str, CameraConfig]) -> None:
        self.names = [name for name, camera in cameras.items() if camera.source]

    def __iter__(self) -> Iterator[RemoteFeed]:
        for name in self.names:
            try:
                yield RemoteFeed(name, ray.get_actor(actor_name(name), namespace=NAMESPACE))
            except ValueError:  # not started yet, or gone for good
                continue

    def __bool__(self) -> bool:
        return bool(self.names)


class RayFeeds:
    """FeedRunner: a camera actor per camera, and a thread of this process that delivers their outputs."""

    def __init__(self) -> None:
        self.actors: dict[str, Any] = {}
        self.errors: dict[str, str] = {}  # why a camera stopped: its source failed, or its actor is gone
        self._dead: set[str] = set()  # cameras whose actor died, until it answers again
        self._runs: dict[str, str] = {}  # each camera's actor as it last answered (a restarted one is another)
        self._pending: dict[str, Any] = {}  # a drain call per camera not answered yet (never sent twice)
        self._started, self._cpus = time.monotonic(), 0.0
        self._unplaced: set[str] = set()  # reported as not started yet
        self._ids = _EventIds()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, config: VigilConfig, executor: Executor, outputs: FeedOutputs) -> list[RemoteFeed]:
        """An actor per camera with a source (each over an executor of its own: `executor` stays here)."""
        self._prefix, self._to = config.mqtt.topic_prefix, self._delivered(outputs)
        settings = portable(config.model_dump(mode="json"))
        options = {"namespace": NAMESPACE, "num_cpus": config.ray.camera_cpus, "scheduling_strategy": "SPREAD",
                   "max_restarts": RESTARTS}
        self.actors = {name: CameraActor.options(name=actor_name(name), **options).remote(settings, name)
                       for name, camera in config.cameras.items() if camera.source}
        self._started, self._cpus = time.monotonic(), config.ray.camera_cpus
        self._thread = threading.Thread(target=self._deliver, name="vigil-camera-actors", daemon=True)
        self._thread.start()
        return [RemoteFeed(name, actor) for name, actor in self.actors.items()]

    def _delivered(self, outputs: FeedOutputs) -> FeedOutputs:
        """The service's callbacks, with the events an actor sends given their ids."""
        emit, sighted = outputs.emit, outputs.sighted

        def with_ids(changes: list[EventChange]) -> None:
            emit(self._ids.adopt(changes))

        def of_its_event(camera: str, now: float, face: Any, event: Event) -> None:
            sighted(camera, now, face, self._ids.known(event))

        return replace(outputs, emit=with_ids if emit is not None else None,
                       sighted=of_its_event if sighted is not None else None)

    def _deliver(self) -> None:
        while not self._stop.wait(DRAIN_EVERY_S):
            self.drain(DRAIN_EVERY_S)

    def drain(self, wait_s: float) -> None:
        """Every camera's outputs that arrive within `wait_s`, delivered; a slow actor's wait for the next round."""
        for name, actor in self.actors.items():
            if name not in self._pending:
                self._pending[name] = actor.drain.remote()
        if not self._pending:
            return
        ready, _ = ray.wait(list(self._pending.values()), num_returns=len(self._pending), timeout=wait_s)
        self._report_unplaced()
        for name in [name for name, ref in self._pending.items() if ref in ready]:
            try:
                self._delivered_from(name, ray.get(self._pending.pop(name)))
            except RayActorError as exc:
                self._gone(name, f"its actor died: {exc}")
            except Exception:  # a callback's surprise (the event log, MQTT) must not stop the other cameras
                log.exception("a camera's outputs could not be delivered", extra={"camera": name})

    def _delivered_from(self, name: str, drained: Drained) -> None:
        if self._runs.setdefault(name, drained.run) != drained.run:  # Ray started the actor again
            self._gone(name, "its actor was restarted")
            self._runs[name] = drained.run
        if name in self._dead or name in self._unplaced:
            self._dead.discard(name)
            self._unplaced.discard(name)
            self.errors.pop(name, None)
            log.info("camera actor running", extra={"camera": name})
        for kind, args in drained.outputs:
            deliver = getattr(self._to, kind)  # a FeedOutputs field: the outbox puts no other kind
            if deliver is not None:
                deliver(*args)
        if drained.error is not None and self.errors.get(name) != drained.error:
            log.error("camera stopped", extra={"camera": name, "error": drained.error})
            self.errors[name] = drained.error

    def _report_unplaced(self) -> None:
        """Cameras whose actor has never answered PLACED_WITHIN_S after the start: said once, in the log and as the
        camera's error (the page shows it); Ray keeps trying to place them."""
        if time.monotonic() - self._started < PLACED_WITHIN_S:
            return
        for name in set(self.actors) - set(self._runs) - self._unplaced:
            self._unplaced.add(name)
            self.errors[name] = (f"camera {name}: its actor has not started after {PLACED_WITHIN_S:g} s; is there a "
                                 f"node with [ray] camera_cpus = {self._cpus:g} CPU free?")
            log.warning(self.errors[name])

    def _gone(self, name: str, why: str) -> None:
        """A dead actor: reported once, its camera offline and its open events ended (Ray restarts it)."""
        if name in self._dead:
            return
        self._dead.add(name)
        self.errors[name] = f"camera {name}: {why}"
        log.error("camera actor died", extra={"camera": name, "error": why})
        self._to.send(wire.camera_available_topic(self._prefix, name), b"offline", True)
        if self._to.emit is not None:
            self._to.emit(self._ids.end_camera(name))

    def stop(self) -> None:
        """Feeds stopped (their open events ended, `offline`), those last outputs delivered, actors gone."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(ANSWER_S)
        stopping = [actor.stop.remote() for actor in self.actors.values()]
        ray.wait(stopping, num_returns=len(stopping), timeout=ANSWER_S)
        self.drain(ANSWER_S)
        for actor in self.actors.values():
            ray.kill(actor, no_restart=True)

