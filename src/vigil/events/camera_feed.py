"""A configured camera (`[cameras.<name>]` with a source) tracked live, its state published on MQTT:

| topic | payload |
|---|---|
| `<prefix>/<camera>/available` | `online` / `offline`, retained: the stream connected, dropped, or the feed stopped |
| `<prefix>/<camera>/<zone>/<label>` | how many are in the zone now, a bare integer, retained, on change |
| `<prefix>/<camera>/line/<line>` | `{"in": n, "out": m}` since the feed started, retained, on change |
| `<prefix>/<camera>/loitering` | `{"camera", "zone", "track_id", "label", "dwell_s", "time_s"}` per loiterer |

With `emit`, the feed's tracks become events (events/track_events.py: one per track, with `track_id`), which the
event service stores, streams and publishes like the watcher's. With the camera's `faces` (the default) each person
track keeps its best face (vigil.tracks.faces), recognised when the track's event ends or its best face improved
enough: the event gets the name (or the stranger's cluster), and `sighted` files one sighting with the track's id.

Each feed runs in a thread of its own (ThreadFeeds; under `vigil serve --ray`, in a Ray actor of its own:
events/camera_actors.py), so one camera's slow decode never holds up another's, and one that fails (a bad shape, a
stream that cannot be opened) logs why and stops alone. Motion gating is on unless the camera says
otherwise; a stream is analysed at the camera's `fps` (5 unless set) and reconnected for ever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from vigil.config.cameras import CameraConfig
from vigil.config.settings import VigilConfig
from vigil.errors import VigilError
from vigil.events.live_view import LiveView
from vigil.events.scene_states import Discover, SceneStates, Send
from vigil.events.track_events import TrackEvents
from vigil.execute.executor import Executor
from vigil.faces.matcher import UNCERTAIN
from vigil.results import Detections, Event, EventChange, Loitering, Track, TrackReport
from vigil.sources.frames import Frame, Source
from vigil.sources.reader import STREAM, open_source
from vigil.sources.video import StreamSource
from vigil.tracks.faces import TrackFaces
from vigil.tracks.pipeline import TrackOptions, track_source
from vigil.tracks.scene import Scene

log = logging.getLogger(__name__)
STREAM_FPS = 5.0  # frames analysed a second of a stream whose camera sets no fps
KEEP_S = 60.0  # a track unseen this long is forgotten (its event ended hold_s after it was last seen)
Emit = Callable[[list[EventChange]], None]  # the event service's: store, stream, publish
Sighted = Callable[[str, float, Detections, Event], None]  # camera, time, a track's face (track_id), its event


class _Stoppable(Source):
    def __init__(self, inner: Source, stop: threading.Event) -> None:
        super().__init__(inner.name)
        self.inner, self.stop, self.counters = inner, stop, inner.counters
        self.rate = getattr(inner, "rate", None)

    def frames(self) -> Iterator[Frame]:
        for frame in self.inner:
            if self.stop.is_set():
                return
            yield frame


class CameraFeed:
    def __init__(self, name: str, camera: CameraConfig, executor: Executor, send: Send, prefix: str = "vigil",
                 retries: int | None = None, emit: Emit | None = None, hold_s: float = 30.0,
                 discover: Discover | None = None, sighted: Sighted | None = None) -> None:
        self.name, self.camera, self.executor = name, camera, executor
        self.retries, self.emit = retries, emit
        self.sighted = sighted
        self.faces = TrackFaces(executor, f"camera:{name}") if camera.faces and emit is not None else None
        self.live = LiveView(camera)
        self.states = SceneStates(name, camera, send, prefix, discover)
        self.events = TrackEvents(name, hold_s, time.time())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.report: TrackReport | None = None
        self.error: str | None = None

    def start(self) -> CameraFeed:
        self._thread = threading.Thread(target=self.run, name=f"camera-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """The camera's frames until its source ends or `stop`; `offline` at the end, whatever ends it."""
        self.states.announce()
        try:
            self.report = track_source(self.executor, self._source(), self.camera, self._options(), self._publish)
        except VigilError as exc:
            self.error = f"camera {self.name}: {exc}"
            log.error(self.error)
        except Exception as exc:  # a bug or a library's surprise stops this camera only, with its traceback
            self.error = f"camera {self.name}: stopped by an unexpected error: {exc!r}"
            log.exception(self.error)
        finally:
            if self.emit is not None:
                self.emit(self._ended(self.events.end_all()))
            self._available(False)

    def _source(self) -> Source:
        stream = bool(STREAM.match(self.camera.source))
        source = open_source(self.camera.source, fps=self.camera.fps, retries=self.retries)
        if isinstance(source, StreamSource):
            source.on_online = lambda: self._available(True)
            source.on_drop = lambda _url: self._available(False)
        elif not stream:
            self._available(True)
        return _Stoppable(source, self._stop)

    def _options(self) -> TrackOptions:
        stream = bool(STREAM.match(self.camera.source))
        return TrackOptions(fps=self.camera.fps or (STREAM_FPS if stream else None),
                            motion_gate=self.camera.motion_gate, keyframe_s=self.camera.keyframe_s,
                            where=f"cameras.{self.name}.", keep_s=max(KEEP_S, self.events.hold_s * 2))

    def _available(self, online: bool) -> None:
        self.live.online = online
        self.states.available(online)

    def _reshape(self, scene: Scene, camera: CameraConfig) -> None:
        """The page's shapes: the scene takes them; zones and lines gone lose their entities and retained states."""
        self.camera, self.live.pending = camera, None
        scene.reshape(camera)
        self.states.reshape(camera)

    def state(self) -> dict[str, Any]:
        """What the page's Cameras view shows of this feed (formats/cameras.py: camera_json)."""
        return self.live.state(self.camera, self.report, self.error)

    def reshape(self, camera: CameraConfig) -> bool:
        """New zones, lines and masks (a CameraConfig already checked against the frame size), taken from the next
        analysed frame on; counts of zones and lines that keep their name go on. False: the feed is not running."""
        if self._thread is None or not self._thread.is_alive() or self._stop.is_set():
            return False
        self.live.pending = camera
        return True

    def _publish(self, frame: Frame, scene: Scene, seen: list[Track], loiterers: list[Loitering]) -> None:
        self.live.saw(frame, seen, scene)
        if self.live.pending is not None:
            self._reshape(scene, self.live.pending)
        if self.emit is not None:
            changes = self.events.observe(frame.time_s, seen, f"{self.camera.source}#{frame.index}")
            changes = self._ended(changes + self._recognised(frame, seen))
            if changes:
                self.emit(changes)
        self.states.publish(scene, loiterers)

    def _recognised(self, frame: Frame, seen: list[Track]) -> list[EventChange]:
        """Faces looked for where due; a track whose best face improved enough is recognised now, its event named."""
        if self.faces is None:
            return []
        changes = []
        for track in self.faces.observe(frame, seen):
            event = self.events.open.get(track.id)
            if self.faces.recognise(track) is not None and event is not None and _name(event, track):
                changes.append(EventChange("update", event))
        return changes

    def _ended(self, changes: list[EventChange]) -> list[EventChange]:
        """Ending tracks: their best face recognised if it was not yet, the event named, one sighting filed."""
        if self.faces is None:
            return changes
        for change in changes:
            if change.type != "end" or change.event.track_id is None:
                continue
            ended = self.faces.ended(change.event.track_id)
            if ended is not None:
                _name(change.event, ended[0])
                if self.sighted is not None:
                    self.sighted(self.name, change.event.last_seen, ended[1], change.event)
        return changes


def _name(event: Event, track: Track) -> bool:
    """The event takes the name (or stranger cluster) of its track's recognised face; True when that changed it."""
    face = track.face
    if face is None or face.name is None or face.name == UNCERTAIN:
        return False
    before = (event.name, event.cluster_id)
    event.name, event.cluster_id = face.name, face.cluster_id
    return before != (event.name, event.cluster_id)


@dataclass(frozen=True)
class FeedOutputs:
    """Where a feed's outputs go (the event service's callbacks), wherever the feed runs."""

    send: Send
    emit: Emit | None = None
    discover: Discover | None = None
    sighted: Sighted | None = None


class FeedRunner(Protocol):
    """Where the live cameras run, chosen by whoever starts the event service: threads of this process
    (ThreadFeeds) or Ray actors (events/camera_actors.py, `vigil serve --ray`)."""

    def start(self, config: VigilConfig, executor: Executor, outputs: FeedOutputs) -> list[Any]:
        """A feed for every camera with a source; the feeds, each with its `name` and `state()`."""

    def stop(self) -> None:
        """Every feed stopped, its last outputs delivered (open events ended, `offline`)."""


class ThreadFeeds:
    """FeedRunner: each feed in a thread of this process (`vigil serve`, `vigil watch`)."""

    def __init__(self) -> None:
        self.feeds: list[CameraFeed] = []

    def start(self, config: VigilConfig, executor: Executor, outputs: FeedOutputs) -> list[CameraFeed]:
        self.feeds = start_feeds(config.cameras, executor, outputs.send, config.mqtt.topic_prefix, outputs.emit,
                                 config.events.hold_s, outputs.discover, outputs.sighted)
        return self.feeds

    def stop(self) -> None:
        for feed in self.feeds:
            feed.stop()


def feed_to(outputs: FeedOutputs, name: str, camera: CameraConfig, executor: Executor, prefix: str,
            hold_s: float) -> CameraFeed:
    """A feed (not started) whose outputs go to `outputs`."""
    return CameraFeed(name, camera, executor, outputs.send, prefix, emit=outputs.emit, hold_s=hold_s,
                      discover=outputs.discover, sighted=outputs.sighted)


def start_feeds(cameras: dict[str, CameraConfig], executor: Executor, send: Send, prefix: str,
                emit: Emit | None = None, hold_s: float = 30.0, discover: Discover | None = None,
                sighted: Sighted | None = None) -> list[CameraFeed]:
    """A feed for every camera with a source (the watcher's folder cameras have none), each in its own thread."""
    outputs = FeedOutputs(send, emit, discover, sighted)
    return [feed_to(outputs, name, camera, executor, prefix, hold_s).start()
            for name, camera in cameras.items() if camera.source]
