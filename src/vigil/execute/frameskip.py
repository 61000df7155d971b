"""Frame skip, as the seed servers did it (`conseqImagesToSkip`).

Alarm frames of one ZoneMinder event arrive in order and nearly identical; the seed reused the previous labels for a
frame of the same monitor that is within N frames of the last one it ran the model on. The frame number is the leading
digits of the file name before '-' (`00088-capture.jpg` → 88); the monitor is the fifth field of the path split on '/'
(`/nvr/zoneminder/events/<monitor>/...`). Paths that do not parse are never skipped.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

_FRAME = re.compile(r"^(\d+)-")


@dataclass
class _Last:
    frame: int
    labels: Any  # what the model said about that frame (Detections in the server)


def frame_number(file_name: str) -> int | None:
    """The leading frame number of a ZoneMinder frame's file name (`00088-capture.jpg` → 88), or None."""
    match = _FRAME.match(file_name)
    return int(match.group(1)) if match else None


def parse(path: str) -> tuple[str, int] | None:
    """(monitor, frame number) of a ZoneMinder event path, or None."""
    parts = path.split("/")
    frame = frame_number(parts[-1])
    if len(parts) < 6 or frame is None or not parts[4]:
        return None
    return parts[4], frame


class FrameSkip:
    """Remembers, per monitor, the last frame the model ran on and its labels. Thread-safe."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self._last: dict[str, _Last] = {}
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self.frames > 0

    def reuse(self, path: str) -> Any | None:
        """The labels to copy for this path, or None when the model must run."""
        key = parse(path) if self.frames > 0 else None
        return None if key is None else self.reuse_at(*key)

    def reuse_at(self, monitor: str, frame: int) -> Any | None:
        """As `reuse`, for a monitor (camera) and frame number known otherwise (the folder watcher)."""
        if self.frames <= 0:
            return None
        with self._lock:
            last = self._last.get(monitor)
            if last is not None and 0 < frame - last.frame <= self.frames:
                return last.labels
        return None

    def remember(self, path: str, labels: Any) -> None:
        key = parse(path) if self.frames > 0 else None
        if key is not None:
            self.remember_at(*key, labels)

    def remember_at(self, monitor: str, frame: int, labels: Any) -> None:
        if self.frames > 0:
            with self._lock:
                self._last[monitor] = _Last(frame, labels)
