"""The watcher's folder cameras named in `[cameras.<name>]` (no source) get what a live camera gets of its zones and
lines: the same Scene (tracks/scene.py) fed with the watcher's tracks (events/watch_tracks.py), a frame's time being
its file's mtime, and the same MQTT states and Home Assistant entities (events/scene_states.py), one device per
camera. The page's Cameras view lists them beside the live cameras, with the watcher's latest analysed frame.

Shapes are checked against the first frame's size, as a live camera's are: one outside it is logged naming its key,
and that camera's zones and lines are off while its events go on. Alarm frames come in bursts: a camera with no new
frame for `hold_s` (its events have ended by then) has its zones' occupancy drop to 0 rather than keep the last
count for hours.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np

from vigil.config.cameras import CameraConfig
from vigil.errors import ConfigError
from vigil.events.live_view import LiveView
from vigil.events.scene_states import SceneStates
from vigil.results import Track
from vigil.sources.frames import Frame
from vigil.tracks.scene import PRESENT_S, Scene

log = logging.getLogger(__name__)


class WatchedScene:
    """One folder camera's scene; it quacks like a CameraFeed for the page (name, camera, live, state, reshape)."""

    def __init__(self, name: str, camera: CameraConfig, states: SceneStates) -> None:
        self.name, self.camera, self.states = name, camera, states
        self.live = LiveView(camera)
        self.scene: Scene | None = None
        self.error: str | None = None
        self._lock = threading.Lock()
        self._frames = 0
        self._time: float | None = None  # the latest frame time analysed
        self._wall = 0.0  # when that frame came

    def observe(self, time_s: float, pixels: np.ndarray, seen: list[Track], forgotten: set[int]) -> None:
        """An analysed frame's tracks, and those the tracker has forgotten since; a frame older than the last (a
        late upload) counts at the last one's time, as the tracker took it."""
        with self._lock:
            time_s = max(time_s, self._time if self._time is not None else time_s)
            frame = Frame(self._frames, time_s, pixels)
            self._frames += 1
            if self.error is not None or (self.scene is None and not self._start(frame)):
                return
            assert self.scene is not None
            self._take_pending(self.scene)
            self._time, self._wall = time_s, time.time()
            loiterers = self.scene.update(time_s, seen)
            if forgotten:
                self.scene.forget(forgotten)
            self.live.saw(frame, seen, self.scene)
            self.states.publish(self.scene, loiterers)

    def _start(self, frame: Frame) -> bool:
        try:
            self.scene = Scene(self.camera, frame.width, frame.height, f"cameras.{self.name}.")
        except ConfigError as exc:
            self.error = f"camera {self.name}: {exc}"
            log.error("%s; the camera's zones and lines are off, its events go on", self.error)
            return False
        self.live.online = True
        self.states.announce()
        self.states.available(True)
        return True

    def _take_pending(self, scene: Scene) -> None:
        """Shapes drawn on the page since the last frame."""
        camera, self.live.pending = self.live.pending, None
        if camera is not None:
            self.camera = camera
            scene.reshape(camera)
            self.states.reshape(camera)

    def quiet(self, now: float, hold_s: float) -> None:
        """No frame for `hold_s` of wall clock: nobody is counted in the zones any more."""
        with self._lock:
            if self.scene is None or self._time is None or now - self._wall < hold_s:
                return
            if any(report.now for report in self.scene.zones.values()):
                self.scene.update(self._time + 2 * PRESENT_S, [])  # a frame with nobody, past presence
                self.states.publish(self.scene, [])

    def state(self) -> dict[str, Any]:
        """What the page's Cameras view shows (formats/cameras.py: camera_json)."""
        return self.live.state(self.camera, None, self.error)

    def reshape(self, camera: CameraConfig) -> bool:
        """New shapes, taken from the next frame on; False when the camera's configured shapes failed."""
        if self.error is not None:
            return False
        self.live.pending = camera
        return True

    def offline(self) -> None:
        with self._lock:
            if self.scene is not None:
                self.live.online = False
                self.states.available(False)


class WatchScenes:
    """Every folder camera named in `[cameras.<name>]`, its scene made on its first frame."""

    def __init__(self, cameras: dict[str, CameraConfig], hold_s: float, prefix: str, publisher: Any) -> None:
        self.cameras = {name: camera for name, camera in cameras.items() if not camera.source}
        self.hold_s, self.prefix = hold_s, prefix
        self.send = publisher.send if publisher is not None else lambda *_: None
        self.discover = publisher.discover_feed if publisher is not None else None
        self.watched: dict[str, WatchedScene] = {}
        self._lock = threading.Lock()

    def observe(self, camera: str, time_s: float, pixels: np.ndarray, seen: list[Track], forgotten: set[int]
                ) -> None:
        watched = self._scene(camera)
        if watched is not None:
            watched.observe(time_s, pixels, seen, forgotten)

    def _scene(self, camera: str) -> WatchedScene | None:
        if camera not in self.cameras:
            return None
        with self._lock:
            if camera not in self.watched:
                states = SceneStates(camera, self.cameras[camera], self.send, self.prefix, self.discover)
                self.watched[camera] = WatchedScene(camera, self.cameras[camera], states)
            return self.watched[camera]

    def expire(self, now: float) -> None:
        for watched in list(self.watched.values()):
            watched.quiet(now, self.hold_s)

    def gone(self, camera: str) -> None:
        """The camera's folder was deleted: offline; a folder made again starts a fresh scene."""
        with self._lock:
            watched = self.watched.pop(camera, None)
        if watched is not None:
            watched.offline()

    def stop(self) -> None:
        for watched in list(self.watched.values()):
            watched.offline()
