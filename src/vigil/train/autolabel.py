"""A presence dataset from one's own footage, labelled by the Vigil detector as teacher.

Each frame (image folders in name order, one frame a second; videos through OpenCV, one frame every `every_s`) is
labelled by the VWW area rule on the detector's person boxes: positive when one box covers strictly more than
`threshold` of the frame. Random crops add framings with and without people; a crop cutting through a person (less
than half of the box inside) is ambiguous and left out. Splits hold out whole time ranges: the timeline of each source
is cut into `block_s` blocks and every fifth block goes to test (another to validation), so a test frame's neighbours
are test frames too and near-duplicates do not leak from training into the test score.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vigil.errors import BadInput, VigilError
from vigil.imaging import images
from vigil.registry.labels import PERSON
from vigil.results import CLASS_NAME, Detections
from vigil.train.vww import Row, folder_of, write_manifest

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".ts"}
MIN_INSIDE = 0.5  # a person less than half inside a crop makes the crop ambiguous
Teacher = Callable[[images.DecodedImage], Detections]


@dataclass(frozen=True)
class Frame:
    source: str
    index: int
    time_s: float
    rgb: np.ndarray


@dataclass(frozen=True)
class AutolabelSettings:
    threshold: float = 0.005
    crops: int = 2  # random crops a frame, plus one around a person when there is one
    every_s: float = 1.0  # videos: one frame every this many seconds
    block_s: float = 60.0  # held-out time ranges
    seed: int = 0


@dataclass
class AutolabelReport:
    rows: list[Row] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ambiguous: int = 0

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for row in self.rows:
            per = out.setdefault(row.split, {"person": 0, "non_person": 0})
            per[folder_of(row.label)] += 1
        return out


def split_of(time_s: float, block_s: float) -> str:
    """Whole blocks of time go to one split: block 4 of every 5 to test, block 2 to validation."""
    block = int(time_s // block_s)
    return {4: "test", 2: "val"}.get(block % 5, "train")


def vww_positive(boxes: np.ndarray, width: float, height: float, threshold: float) -> bool:
    """The VWW rule on boxes (xyxy): one box covers strictly more than `threshold` of the width × height."""
    if not len(boxes):
        return False
    wh = np.clip(boxes[:, 2:] - boxes[:, :2], 0, None)
    return bool(((wh[:, 0] * wh[:, 1]) / (width * height) > threshold).any())


def crop_label(boxes: np.ndarray, crop: tuple[int, int, int, int], threshold: float) -> int | None:
    """1 / 0 by the same rule on the boxes clipped to the crop; None when a person is cut in two."""
    x0, y0, x1, y1 = crop
    clipped = np.clip(boxes, [x0, y0, x0, y0], [x1, y1, x1, y1]) - [x0, y0, x0, y0]
    full = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
    inside = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1)
    touched = inside > 0
    if (touched & (inside < MIN_INSIDE * np.maximum(full, 1e-9))).any():
        return None
    return int(vww_positive(clipped[touched], x1 - x0, y1 - y0, threshold))


def crops_for(boxes: np.ndarray, width: int, height: int, settings: AutolabelSettings,
              rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    out = []
    for _ in range(settings.crops):
        w, h = int(width * rng.uniform(0.3, 0.7)), int(height * rng.uniform(0.3, 0.7))
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        out.append((x, y, x + w, y + h))
    if len(boxes):  # one framing around a person, 2–4 times its size
        x0, y0, x1, y1 = boxes[int(rng.integers(len(boxes)))]
        grow = rng.uniform(2, 4)
        cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * grow, (y1 - y0) * grow
        box = (int(max(0, cx - w / 2)), int(max(0, cy - h / 2)), int(min(width, cx + w / 2)),
               int(min(height, cy + h / 2)))
        if box[2] - box[0] >= 8 and box[3] - box[1] >= 8:
            out.append(box)
    return out


def frames(path: Path, every_s: float, errors: list[str]) -> Iterator[Frame]:
    """Frames of a folder of images, an image, or a video. Unreadable images are reported and skipped."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
        if not files:
            raise BadInput(f"{path}: no images or videos in this folder")
        stills = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        for index, still in enumerate(stills):  # a folder's images are one second apart, in name order
            yield from _still(still, path.name, index, errors)
        for video in (p for p in files if p.suffix.lower() in VIDEO_SUFFIXES):
            yield from _video(video, every_s)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        yield from _video(path, every_s)
    elif path.is_file():
        yield from _still(path, path.stem, 0, errors)
    else:
        raise BadInput(f"{path}: no such file or folder")


def _still(path: Path, source: str, index: int, errors: list[str]) -> Iterator[Frame]:
    try:
        yield Frame(source, index, float(index), images.load(path).pixels)
    except VigilError as exc:
        errors.append(f"{path}: {exc}")


def _video(path: Path, every_s: float) -> Iterator[Frame]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise BadInput(f"{path}: OpenCV cannot open this video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    step = max(1, round(every_s * fps))
    index = 0
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            if index % step == 0:
                yield Frame(path.stem, index, index / fps, np.ascontiguousarray(bgr[:, :, ::-1]))
            index += 1
    finally:
        capture.release()


def autolabel(sources: list[Path], out: Path, teacher: Teacher,
              settings: AutolabelSettings = AutolabelSettings()) -> AutolabelReport:
    """Label every frame of `sources` with `teacher` (the detector), write out/<person|non_person>/ and manifest."""
    report = AutolabelReport()
    for path in sources:
        try:
            for frame in frames(path, settings.every_s, report.errors):
                _label_frame(frame, out, teacher, settings, report)
        except BadInput as exc:
            report.errors.append(str(exc))
    write_manifest(out, report.rows)
    return report


def _label_frame(frame: Frame, out: Path, teacher: Teacher, settings: AutolabelSettings,
                 report: AutolabelReport) -> None:
    height, width = frame.rgb.shape[:2]
    found = teacher(images.DecodedImage(frame.rgb, width, height))
    boxes = found.xyxy[found.data[CLASS_NAME] == PERSON] if len(found) else np.zeros((0, 4), np.float32)
    split = split_of(frame.time_s, settings.block_s)
    stem = f"{frame.source}_{frame.index:06d}"
    _write(out, f"{stem}.jpg", frame.rgb, int(vww_positive(boxes, width, height, settings.threshold)), split, report)
    rng = np.random.default_rng([settings.seed, zlib.crc32(stem.encode())])
    for j, (x0, y0, x1, y1) in enumerate(crops_for(boxes, width, height, settings, rng)):
        label = crop_label(boxes, (x0, y0, x1, y1), settings.threshold)
        if label is None:
            report.ambiguous += 1
            continue
        _write(out, f"{stem}_c{j}.jpg", frame.rgb[y0:y1, x0:x1], label, split, report)


def _write(out: Path, name: str, rgb: np.ndarray, label: int, split: str, report: AutolabelReport) -> None:
    target = out / folder_of(label) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target), np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise BadInput(f"{target}: could not write the image")
    report.rows.append(Row(name, label, split))
