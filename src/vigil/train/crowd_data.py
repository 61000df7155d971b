"""Crowd point annotations: the ShanghaiTech layout and a plain JSON of points per image.

ShanghaiTech: DATASET/images/IMG_7.jpg with DATASET/ground_truth/GT_IMG_7.mat, whose
`image_info[0, 0][0, 0][0]` is an (n, 2) array of head points (x, y). JSON: DATASET/images/*.jpg with
DATASET/points.json, `{"IMG_7.jpg": [[x, y], ...], ...}`. A bad annotation file raises BadInput naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vigil.errors import BadInput

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
POINTS_JSON = "points.json"


@dataclass(frozen=True)
class Annotated:
    image: Path
    points: np.ndarray  # (n, 2) float64 head points (x, y), pixels of the image


def read_mat_points(path: Path) -> np.ndarray:
    """Head points of one ShanghaiTech GT_*.mat file."""
    from scipy.io import loadmat

    try:
        info = loadmat(str(path))["image_info"]
        points = np.asarray(info[0, 0][0, 0][0], np.float64)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise BadInput(f"{path}: not a ShanghaiTech annotation (image_info[0,0][0,0][0] points): {exc}") from None
    return _checked(points, path)


def read_json_points(path: Path) -> dict[str, np.ndarray]:
    """image name -> head points, from a points.json."""
    try:
        table = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: cannot read the points JSON: {exc}") from None
    if not isinstance(table, dict):
        raise BadInput(f"{path}: expected an object {{image name: [[x, y], ...]}}, got {type(table).__name__}")
    out = {}
    for name, points in table.items():
        try:
            array = np.asarray(points, np.float64)
        except (ValueError, TypeError):
            raise BadInput(f"{path}: points of {name!r} are not numbers") from None
        out[str(name)] = _checked(array, path, name)
    return out


def _checked(points: np.ndarray, path: Path, name: str = "") -> np.ndarray:
    where = f"{path}" + (f" [{name}]" if name else "")
    if points.size == 0:
        return np.zeros((0, 2), np.float64)
    if points.ndim != 2 or points.shape[1] < 2:
        raise BadInput(f"{where}: points must be an (n, 2) array of x, y; got shape {points.shape}")
    if not np.isfinite(points[:, :2]).all():
        raise BadInput(f"{where}: points contain NaN or infinity")
    return points[:, :2].copy()


def load_dataset(folder: Path) -> list[Annotated]:
    """Every annotated image of a dataset folder, sorted by name (either layout; JSON wins when both exist)."""
    folder = Path(folder)
    image_dir = folder / "images"
    if not image_dir.is_dir():
        raise BadInput(f"{folder}: expected an images/ folder (ShanghaiTech or points.json layout)")
    found = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if (folder / POINTS_JSON).is_file():
        table = read_json_points(folder / POINTS_JSON)
        missing = [p.name for p in found if p.name not in table]
        if missing:
            raise BadInput(f"{folder / POINTS_JSON}: no points for {missing[:5]}")
        return [Annotated(p, table[p.name]) for p in found]
    if (folder / "ground_truth").is_dir():
        return [Annotated(p, read_mat_points(_mat_for(folder, p))) for p in found]
    raise BadInput(f"{folder}: neither {POINTS_JSON} nor ground_truth/GT_*.mat found")


def _mat_for(folder: Path, image: Path) -> Path:
    path = folder / "ground_truth" / f"GT_{image.stem}.mat"
    if not path.is_file():
        raise BadInput(f"{image}: its annotation {path} is missing")
    return path
