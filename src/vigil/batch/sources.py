"""What `vigil batch` reads: image files, folder trees and videos sampled at --fps, each item with its camera (from
the folder tree or `[watch] camera_pattern`, as the watcher names cameras) and its time (the position in a video, or
an image file's modification time)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vigil.config.events import WatchConfig
from vigil.errors import BadInput
from vigil.events.watcher import CameraNamer
from vigil.imaging.images import DecodedImage

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".ts"})


@dataclass(frozen=True)
class Item:
    """One image to process: a file, or one frame of a video."""

    path: str
    frame: int = -1  # -1: the file is an image
    time: float = 0.0  # seconds into the video, or the image file's modification time (epoch seconds)
    camera: str = ""

    @property
    def key(self) -> str:
        return self.path if self.frame < 0 else f"{self.path}#{self.frame}"


def entry_key(entry: dict[str, Any]) -> str:
    frame = entry.get("frame")
    return entry["image"] if frame is None or frame < 0 else f"{entry['image']}#{frame}"


def expand(sources: Sequence[str | Path], fps: float = 1.0, watch: WatchConfig | None = None) -> list[Item]:
    """Every image in input order: files as given, folder trees sorted, videos sampled at `fps`. A folder given is
    a watched folder would be: the first folder below it (or the pattern) names the camera."""
    watch = watch or WatchConfig()
    items: list[Item] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            namer = CameraNamer([path], watch.camera_pattern, watch.default_camera)
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in
                           IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            items += [i for p in found for i in _file_items(p, fps, namer.camera(str(p.resolve())))]
        else:
            namer = CameraNamer([path.parent.parent], watch.camera_pattern, watch.default_camera)
            items += _file_items(path, fps, namer.camera(str(path.resolve())))
    return items


def _file_items(path: Path, fps: float, camera: str) -> list[Item]:
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return [Item(str(path), time=_mtime(path), camera=camera)]
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        native = capture.get(cv2.CAP_PROP_FPS) or 25.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()
    if count <= 0:
        return [Item(str(path), 0, camera=camera)]  # unreadable: the worker reports the error for it
    step = max(1, round(native / fps)) if fps > 0 else 1
    return [Item(str(path), n, round(n / native, 3), camera) for n in range(0, count, step)]


def _mtime(path: Path) -> float:
    try:
        return round(os.stat(path).st_mtime, 3)
    except OSError:
        return 0.0  # a missing file: the worker reports it


def read_video_frame(path: str, index: int) -> DecodedImage:
    import cv2

    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise BadInput(f"{path}: not a readable video")
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = capture.read()
    finally:
        capture.release()
    if not ok:
        raise BadInput(f"{path}: frame {index} could not be read")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return DecodedImage(rgb, rgb.shape[1], rgb.shape[0])
