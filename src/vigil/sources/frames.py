"""Frames in time order from a source: a folder of images, a video file, an RTSP or HTTP(S) stream.

Every reader (sources/reader.py picks one) yields `Frame`s whose times never go back: a
frame older than the one before it (a camera that sends frames out of order) is dropped, counted and logged, and
so is a frame that cannot be decoded; nothing else is lost. PyAV is imported only for a video or a stream.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from vigil.errors import BadInput, VigilError
from vigil.imaging import images

log = logging.getLogger(__name__)
FOLDER_FPS = 10.0  # a folder's frames carry no times: they are taken as this many a second unless told otherwise
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass
class Frame:
    index: int  # position in the source (every frame read counts, analysed or not)
    time_s: float  # seconds from the source's start (a stream's: since this reader started)
    pixels: np.ndarray  # (h, w, 3) uint8 RGB

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def decoded(self, moved: np.ndarray | None = None) -> images.DecodedImage:
        """The frame for the executor; `moved`: where it changed (motion gating), for the second look."""
        return images.DecodedImage(self.pixels, self.width, self.height, moved)


@dataclass
class Counters:
    """What a source lost on the way, for the report: frames dropped (corrupt, out of order, lost in a drop),
    the stream's drops and reconnects, and the last problem in words."""

    dropped: int = 0
    drops: int = 0
    reconnects: int = 0
    problems: list[str] = field(default_factory=list)

    def drop(self, what: str, name: str) -> None:
        self.dropped += 1
        self.note(f"{name}: {what}")

    def note(self, message: str) -> None:
        log.warning(message)
        if len(self.problems) < 20:
            self.problems.append(message)


class Source:
    """A source of frames: iterate it once; `counters` says what was lost."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counters = Counters()

    def __iter__(self) -> Iterator[Frame]:
        return self.in_order(self.frames())

    def frames(self) -> Iterable[Frame]:
        raise NotImplementedError

    def in_order(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        last = None
        for frame in frames:
            if last is not None and frame.time_s <= last:
                self.counters.drop(f"frame {frame.index} at {frame.time_s:.3f} s is not after {last:.3f} s: out of "
                                   f"order, dropped", self.name)
                continue
            last = frame.time_s
            yield frame


class FolderSource(Source):
    """The image files of a folder in name order (NVR exports and timestamped names sort in time order). Their
    times: the files' modification times when those rise from each frame to the next (an NVR writing alarm frames
    as they happen), else `fps` (10) frames a second; given `fps` always wins."""

    def __init__(self, folder: Path, fps: float | None = None, limits: images.ImageLimits | None = None) -> None:
        super().__init__(str(folder))
        self.folder, self.fps, self.limits = folder, fps, limits or images.ImageLimits()
        self.rate = fps or FOLDER_FPS

    def frames(self) -> Iterator[Frame]:
        paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not paths:
            raise BadInput(f"{self.folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
        times = self._times(paths)
        for index, path in enumerate(paths):
            try:
                pixels = images.load(path, self.limits).pixels
            except VigilError as exc:
                self.counters.drop(f"frame {index} ({path.name}): {exc}; dropped", self.name)
                continue
            yield Frame(index, times[index], pixels)

    def _times(self, paths: list[Path]) -> list[float]:
        written = [p.stat().st_mtime for p in paths]
        if self.fps is None and len(paths) > 1 and all(b > a for a, b in pairwise(written)):
            self.rate = (len(paths) - 1) / (written[-1] - written[0])  # what the tracker's memory is sized by
            return [t - written[0] for t in written]
        return [i / self.rate for i in range(len(paths))]
