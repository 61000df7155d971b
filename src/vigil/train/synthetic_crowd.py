"""Synthetic crowds for tests and bootstrapping: real people pasted onto real, person-free backgrounds.

People are cut out of the vtest frames (tests/fixtures/images) with the default detector's boxes (a feathered
ellipse keeps most of the person and little of the street behind), and pasted at perspective-consistent scales: the
feet row decides the height, smaller toward a horizon above the image, far people drawn first so near ones occlude
them. Every pasted person gets an exact head point, so counts and density maps are exact.

Backgrounds are the median of the vtest frames (people walk through, the street stays) and the person-free test
photos. The held-out split uses other backgrounds (the right part of the street, the giraffe and horses photos) and
people cut from other frames than training does. Real use wants real annotated crowds: see the README's Crowd section.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vigil.imaging import images
from vigil.registry.store import ModelStore
from vigil.tasks.detect import DetectOptions, ObjectDetector

VTEST = tuple(f"vtest_{i:03d}.jpg" for i in range(0, 361, 60))
SPLITS = {  # split -> (frames people are cut from, person-free photos, part of the street median: x from, x to)
    "train": (VTEST[:5], ("dog.jpg", "eagle.jpg"), (0.0, 0.6)),
    "held_out": (VTEST[5:], ("giraffe.jpg", "horses.jpg"), (0.6, 1.0)),
}
HEAD_FROM_TOP = 0.1  # head point: a tenth of the box height below its top edge


@dataclass(frozen=True)
class Cutout:
    pixels: np.ndarray  # (h, w, 3) uint8 RGB
    mask: np.ndarray  # (h, w) float32 in [0, 1]


@dataclass(frozen=True)
class CrowdScene:
    pixels: np.ndarray  # (h, w, 3) uint8 RGB
    points: np.ndarray  # (n, 2) float head points, pixels


def harvest_people(frames: list[np.ndarray], detector: ObjectDetector, min_height: int = 40) -> list[Cutout]:
    """Person cut-outs from real frames: detector boxes (person class) at least `min_height` pixels tall."""
    people = []
    for frame in frames:
        found = detector(frame, DetectOptions(min_score=0.4))
        for x0, y0, x1, y1 in found[found.class_id == 0].xyxy.round().astype(int):
            x0, y0 = max(x0, 0), max(y0, 0)
            crop = frame[y0:y1, x0:x1]
            if crop.shape[0] >= min_height and crop.shape[1] >= 8:
                people.append(Cutout(crop.copy(), _ellipse_mask(*crop.shape[:2])))
    return people


def _ellipse_mask(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    r = ((xx - (w - 1) / 2) / (w / 2)) ** 2 + ((yy - (h - 1) / 2) / (h / 2)) ** 2
    return np.clip((1.05 - r) / 0.25, 0, 1).astype(np.float32)


def median_background(frames: list[np.ndarray]) -> np.ndarray:
    """The per-pixel median of frames from one fixed camera: the scene without the people walking through it."""
    return np.median(np.stack(frames), axis=0).astype(np.uint8)


def make_scene(background: np.ndarray, people: list[Cutout], count: int, size: tuple[int, int],
               rng: np.random.Generator) -> CrowdScene:
    """`count` people on a random crop of `background`, resized to size (w, h)."""
    w, h = size
    canvas = _random_view(background, w, h, rng).astype(np.float32)
    horizon = rng.uniform(-0.6, -0.1) * h  # heights shrink linearly toward this row
    near = min(0.45 * h, 2.2 * np.sqrt(w * h / max(count, 1)))  # crowded scenes need smaller people to fit
    feet = np.sort(rng.uniform(0.15 * h, 1.05 * h, count))
    points = []
    for foot_y in feet:  # far (top) first, so near people occlude them
        height = max(6.0, near * (foot_y - horizon) / (h - horizon))
        person = people[int(rng.integers(len(people)))]
        x = rng.uniform(0, w)
        head = _paste(canvas, person, x, foot_y, height, flip=bool(rng.integers(2)))
        if 0 <= head[0] < w and 0 <= head[1] < h:
            points.append(head)
    return CrowdScene(canvas.astype(np.uint8), np.asarray(points, np.float64).reshape(-1, 2))


def _random_view(background: np.ndarray, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    bh, bw = background.shape[:2]
    scale = rng.uniform(0.6, 1.0)
    cw, ch = max(16, int(bw * scale)), max(16, int(bh * scale))
    x0, y0 = int(rng.integers(0, bw - cw + 1)), int(rng.integers(0, bh - ch + 1))
    view = cv2.resize(background[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_AREA)
    return view[:, ::-1] if rng.integers(2) else view


def _paste(canvas: np.ndarray, person: Cutout, cx: float, foot_y: float, height: float, flip: bool
           ) -> tuple[float, float]:
    """Blend the person with feet at (cx, foot_y); returns the head point."""
    ph, pw = person.pixels.shape[:2]
    nh, nw = max(2, round(height)), max(1, round(height * pw / ph))
    pixels = cv2.resize(person.pixels, (nw, nh), interpolation=cv2.INTER_AREA).astype(np.float32)
    mask = cv2.resize(person.mask, (nw, nh), interpolation=cv2.INTER_AREA)[:, :, None]
    if flip:
        pixels, mask = pixels[:, ::-1], mask[:, ::-1]
    x0, y0 = round(cx - nw / 2), round(foot_y - nh)
    h, w = canvas.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + nw, w), min(y0 + nh, h)
    if cx1 > cx0 and cy1 > cy0:
        part = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
        region = canvas[cy0:cy1, cx0:cx1]
        region[:] = region * (1 - mask[part]) + pixels[part] * mask[part]
    return x0 + nw / 2, y0 + HEAD_FROM_TOP * nh


class SceneSource:
    """Backgrounds and people of one split, loaded once; `scenes()` draws any number of crowds from them."""

    def __init__(self, store: ModelStore, split: str, image_dir: Path, detector: ObjectDetector | None = None):
        frames_names, photos, (a, b) = SPLITS[split]
        vtest = [images.load(image_dir / name).pixels for name in VTEST]
        street = median_background(vtest)
        self.backgrounds = [street[:, int(a * street.shape[1]):int(b * street.shape[1])]]
        self.backgrounds += [images.load(image_dir / name).pixels for name in photos]
        detector = detector or ObjectDetector.load(store, "yolov4_tiny.coco", input_size=1024)
        self.people = harvest_people([images.load(image_dir / name).pixels for name in frames_names], detector)
        if not self.people:
            raise ValueError(f"no people found in {frames_names} to build synthetic crowds from")

    def scenes(self, counts: list[int], size: tuple[int, int], seed: int = 0) -> list[CrowdScene]:
        rng = np.random.default_rng(seed)
        return [make_scene(self.backgrounds[int(rng.integers(len(self.backgrounds)))], self.people, count, size, rng)
                for count in counts]


def log_uniform_counts(n: int, low: int, high: int, seed: int = 0) -> list[int]:
    """Counts spread evenly on a log scale, so sparse and dense scenes are both well represented."""
    rng = np.random.default_rng(seed)
    return [round(np.exp(v)) for v in rng.uniform(np.log(low), np.log(high), n)]


def write_json_dataset(scenes: list[CrowdScene], folder: Path) -> Path:
    """The plain-JSON layout `vigil train crowd` reads: images/*.jpg and points.json {image: [[x, y], ...]}."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    table = {}
    for i, scene in enumerate(scenes):
        name = f"synthetic_{i:04d}.jpg"
        cv2.imwrite(str(folder / "images" / name), scene.pixels[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        table[name] = scene.points.round(2).tolist()
    (folder / "points.json").write_text(json.dumps(table))
    return folder
