"""The seed's dataset layout, its splits and its augmentation, in numpy and OpenCV (no torchvision).

`DATASET/<label>/*.jpg`; a `no_faces` sub-folder counts for its parent label. A dataset's own `manifest.csv`
(`file,label,split`, as `vigil presence dataset|autolabel` write it) decides the split when present: autolabel holds
out whole time ranges, and a random split would leak their neighbouring frames into training. Otherwise a stratified
split with a fixed seed: 20% test, then 20% of the rest for validation; or, for a score over repeated splits, fold k
of a stratified k-fold (scikit-learn's StratifiedKFold: each image is a test image in exactly one fold), the
validation images a stratified 20% of the rest. Class weights `max_count / count`.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vigil.errors import BadInput
from vigil.imaging import images
from vigil.ops.letterbox import stretch
from vigil.train.vww import MANIFEST, SPLITS, folder_of

log = logging.getLogger(__name__)

SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


@dataclass(frozen=True)
class Sample:
    path: str
    label: int


@dataclass(frozen=True)
class Split:
    labels: tuple[str, ...]
    train: tuple[Sample, ...]
    val: tuple[Sample, ...]
    test: tuple[Sample, ...]

    def class_weights(self) -> np.ndarray:
        counts = np.bincount([s.label for s in self.train], minlength=len(self.labels)).astype(np.float64)
        return (counts.max() / np.maximum(counts, 1)).astype(np.float32)

    def to_json(self) -> dict:
        part = lambda samples: [[s.path, s.label] for s in samples]  # noqa: E731
        return {"labels": list(self.labels), "train": part(self.train), "val": part(self.val), "test": part(self.test)}

    @classmethod
    def from_json(cls, doc: dict) -> Split:
        part = lambda rows: tuple(Sample(p, int(i)) for p, i in rows)  # noqa: E731
        return cls(tuple(doc["labels"]), part(doc["train"]), part(doc["val"]), part(doc["test"]))


def scan(root: Path) -> tuple[tuple[str, ...], list[Sample]]:
    """Labels (sorted folder names) and every image below them."""
    if not root.is_dir():
        raise BadInput(f"{root}: dataset folder does not exist")
    labels = tuple(sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")))
    samples = [Sample(str(p), i) for i, label in enumerate(labels)
               for p in sorted((root / label).rglob("*")) if p.suffix.lower() in SUFFIXES and p.is_file()]
    counts = np.bincount([s.label for s in samples], minlength=len(labels))
    if len(labels) < 2 or counts.min() < 3:
        raise BadInput(f"{root}: need at least 2 label folders with 3+ images each; found "
                       + (", ".join(f"{n}={c}" for n, c in zip(labels, counts, strict=True)) or "none"))
    return labels, samples


def split(root: Path, seed: int = 42, test: float = 0.2, val: float = 0.2, fold: int | None = None,
          folds: int = 5) -> Split:
    labels, samples = scan(root)
    if (root / MANIFEST).is_file():
        return manifest_split(root, labels, samples)
    if fold is not None:
        return fold_split(labels, samples, seed, fold, folds, val)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[Sample]] = {"train": [], "val": [], "test": []}
    for label in range(len(labels)):  # stratified: every class split in the same proportions
        own = [s for s in samples if s.label == label]
        order = rng.permutation(len(own))
        n_test = max(1, round(len(own) * test))
        n_val = max(1, round((len(own) - n_test) * val))
        parts["test"] += [own[i] for i in order[:n_test]]
        parts["val"] += [own[i] for i in order[n_test:n_test + n_val]]
        parts["train"] += [own[i] for i in order[n_test + n_val:]]
    return Split(labels, tuple(parts["train"]), tuple(parts["val"]), tuple(parts["test"]))


def fold_split(labels: tuple[str, ...], samples: list[Sample], seed: int, fold: int, folds: int,
               val: float = 0.2) -> Split:
    """Fold `fold` of a shuffled stratified k-fold as the test images; validation a stratified share of the rest."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    if not 0 <= fold < folds:
        raise BadInput(f"--fold {fold}: choose 0 to {folds - 1} (--folds {folds})")
    y = np.array([s.label for s in samples])
    if np.bincount(y).min() < folds:
        raise BadInput(f"--folds {folds}: every label needs at least {folds} images (fewest: {np.bincount(y).min()})")
    rest, test = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))[fold]
    train, held = train_test_split(rest, test_size=val, stratify=y[rest], random_state=seed)
    pick = lambda idx: tuple(samples[i] for i in sorted(idx))  # noqa: E731
    return Split(labels, pick(train), pick(held), pick(test))


def manifest_split(root: Path, labels: tuple[str, ...], samples: list[Sample]) -> Split:
    """The split `manifest.csv` names: each row's image is `<root>/<person|non_person>/<file>` (label 1 / 0).
    Images in the folders but not in the manifest are left out (logged); a row naming a missing image, a bad label
    or an unknown split fails naming the row."""
    by_path = {str(Path(s.path).relative_to(root)): s for s in samples}
    parts: dict[str, list[Sample]] = {name: [] for name in SPLITS}
    path = root / MANIFEST
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"file", "label", "split"} <= set(rows[0]):
        raise BadInput(f"{path}: needs the columns file,label,split (has {','.join(rows[0])})")
    for line, row in enumerate(rows, start=2):
        if row["label"] not in ("0", "1") or row["split"] not in SPLITS:
            raise BadInput(f"{path} line {line}: label must be 0 or 1 and split one of {', '.join(SPLITS)} "
                           f"(got {row['label']!r}, {row['split']!r})")
        key = str(Path(folder_of(int(row["label"]))) / row["file"])
        if key not in by_path:
            raise BadInput(f"{path} line {line}: {key} is not an image of {root}")
        parts[row["split"]].append(by_path.pop(key))
    if by_path:
        log.warning("%s: %d image(s) not in %s left out, e.g. %s", root, len(by_path), MANIFEST, next(iter(by_path)))
    empty = [name for name in SPLITS if not parts[name]]
    if empty:
        raise BadInput(f"{path}: no images in the {', '.join(empty)} split(s); autolabel: a --block-s that fits "
                       "five or more blocks into the footage gives every split some")
    return Split(labels, tuple(parts["train"]), tuple(parts["val"]), tuple(parts["test"]))


def load_image(path: str, size: int, gray: bool = False) -> np.ndarray:
    """RGB uint8 stretched to size×size, as the serving wrapper resizes a person crop; `gray`: one channel,
    converted as the serving side's GRAY input spec converts (ops.tensor)."""
    frame = images.load(path, fit=(size, size))
    rgb = stretch(frame.pixels, size, size)[0]
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None] if gray else rgb


def load_all(samples: tuple[Sample, ...] | list[Sample], size: int, gray: bool = False
             ) -> tuple[np.ndarray, np.ndarray]:
    if not samples:
        return np.zeros((0, size, size, 1 if gray else 3), np.uint8), np.zeros(0, np.int64)
    pixels = np.stack([load_image(s.path, size, gray) for s in samples])
    return pixels, np.array([s.label for s in samples], np.int64)


@dataclass(frozen=True)
class Augment:
    """Keras ImageDataGenerator's recipe as the seed used it: rotation 40°, shifts 0.2, shear 0.2, zoom 0.2, flip."""

    rotation: float = 40.0
    shift: float = 0.2
    shear: float = 0.2
    zoom: float = 0.2
    flip: bool = True

    def __call__(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = rgb.shape[:2]
        angle = math.radians(rng.uniform(-self.rotation, self.rotation))
        shear = rng.uniform(-self.shear, self.shear)
        zx, zy = rng.uniform(1 - self.zoom, 1 + self.zoom, size=2)
        tx, ty = rng.uniform(-self.shift, self.shift) * w, rng.uniform(-self.shift, self.shift) * h
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        linear = rot @ np.array([[1, -math.sin(shear)], [0, math.cos(shear)]]) @ np.diag([1 / zx, 1 / zy])
        centre = np.array([w / 2, h / 2])
        matrix = np.hstack([linear, (centre - linear @ centre + [tx, ty])[:, None]])
        out = cv2.warpAffine(rgb, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        out = out.reshape(rgb.shape)  # OpenCV drops a single channel axis
        return out[:, ::-1] if self.flip and rng.random() < 0.5 else out

    def batch(self, pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.stack([self(p, rng) for p in pixels])


# The light recipe: a quarter of the seed's rotation, half its shifts, shear and zoom. On lfw_subset with Darknet-19
# from scratch (max rate 0.02, 20 epochs, 1 thread) it scored 1.0 / 1.0 / 1.0 on seeds 1-3 at the best validation
# epoch, the seed's recipe 0.975 / 0.95 / 0.975 (README, issue 24).
AUGMENTS = {"seed": Augment(), "light": Augment(rotation=10.0, shift=0.1, shear=0.1, zoom=0.1)}


def augment_for(name: str, default: str) -> str:
    if name and name not in AUGMENTS:
        raise BadInput(f"unknown --augment {name!r}; choose one of {', '.join(AUGMENTS)}")
    return name or default
