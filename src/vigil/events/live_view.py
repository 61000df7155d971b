"""What the page's Cameras view shows of a live camera: its latest analysed frame (a JPEG made when asked, at most
once per frame), the tracks seen on it, when, the frame's size, online or not, and the counts so far."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import simplejpeg

from vigil.config.cameras import CameraConfig
from vigil.results import Track, TrackReport
from vigil.sources.frames import Frame
from vigil.sources.reader import STREAM
from vigil.tracks.scene import Scene

FRAME_SIDE = 960  # the longest side of the JPEG the page gets; shapes stay in the source's pixels
FRAME_QUALITY = 75


class LiveView:
    def __init__(self, camera: CameraConfig) -> None:
        self.online = False
        self.pending: CameraConfig | None = None  # new shapes from the page, taken on the next analysed frame
        self._lock = threading.Lock()
        self._pixels: np.ndarray | None = None
        self._jpeg: bytes | None = None
        self._time: float | None = None
        self._index = -1
        self._tracks: list[Track] = []
        self._size: tuple[int, int] | None = (camera.width, camera.height) if camera.width and camera.height else None
        self._analysed = 0
        self._zones: dict[str, Any] = {}
        self._lines: dict[str, dict[str, int]] = {}

    def saw(self, frame: Frame, seen: list[Track], scene: Scene) -> None:
        with self._lock:
            self._pixels, self._jpeg, self._time, self._index = frame.pixels, None, time.time(), frame.index
            self._tracks = list(seen)
            self._size = (frame.width, frame.height)
            self._analysed += 1
            self._zones = {name: {"now": dict(z.now), "max": dict(z.max), "loitering": list(z.loitering)}
                           for name, z in scene.zones.items()}
            self._lines = {name: dict(counts) for name, counts in scene.lines.items()}

    @property
    def size(self) -> tuple[int, int] | None:
        return self._size

    def jpeg(self) -> bytes | None:
        with self._lock:
            if self._jpeg is None and self._pixels is not None:
                pixels = self._pixels
                step = max(1, -(-max(pixels.shape[:2]) // FRAME_SIDE))
                small = np.ascontiguousarray(pixels[::step, ::step, :3])
                self._jpeg = simplejpeg.encode_jpeg(small, quality=FRAME_QUALITY, colorspace="RGB")
            return self._jpeg

    def state(self, camera: CameraConfig, report: TrackReport | None, error: str | None) -> dict[str, Any]:
        with self._lock:
            width, height = self._size or (None, None)
            kind = _kind(camera.source)
            return {"source": camera.source, "kind": kind, "online": self.online, "error": error,
                    "last_frame_time": self._time, "frame": self._index if self._time else None,
                    "width": width, "height": height, "analysed": self._analysed,
                    "counts": {"zones": dict(self._zones), "lines": dict(self._lines)},
                    "ended": report is not None, "tracks": list(self._tracks), "camera": camera}


def _kind(source: str) -> str:
    """`watched`: no source, the watcher's folder camera of this name (events/watch_scenes.py)."""
    if not source:
        return "watched"
    return "stream" if STREAM.match(source) else "folder" if Path(source).is_dir() else "video"
