"""The crowd task's three models: the detector count (tiled when people are small), the density regressor (ONNX),
and the dense/sparse level classifier (an ONNX backbone's pooled features into a skops-saved logistic regression).
None of them needs torch; the level classifier needs scikit-learn and skops (extra "faces"), never imbalanced-learn.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vigil.config.tasks import CrowdConfig
from vigil.errors import ConfigError, ModelIntegrityError, NotFound
from vigil.ops.density import boxes_density
from vigil.ops.tiles import merge_tiles, tile_grid
from vigil.registry.store import ModelStore, sha256_of
from vigil.results import Detections
from vigil.runtimes.session import Session, open_session

PERSON_ID = 0  # COCO class id of "person" in every built-in detector
HEAT_SCALE = 4  # detector heatmaps are drawn at 1/4 of the frame (a blur, so detail is not lost)
DENSITY_MULTIPLE = 16
LEVEL_MANIFEST = "level.json"
LEVEL_TRUSTED = [
    "sklearn.pipeline.Pipeline", "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression", "numpy.ndarray", "numpy.dtype", "numpy.float64",
    "numpy.int64", "numpy.int32", "builtins.float", "builtins.int", "builtins.str", "builtins.bool", "builtins.list",
    "builtins.dict", "builtins.tuple", "builtins.NoneType",
]


class DetectorCounter:
    """People counted as person boxes; in tiles at a higher resolution when they look small. `find` is the detector
    (the served detect task, through the executor): pixels in, boxes in those pixels out."""

    def __init__(self, find: Callable[[np.ndarray], Detections], cfg: CrowdConfig, looks_closer: bool = False):
        self.find, self.cfg, self.looks_closer = find, cfg, looks_closer  # looks_closer: the detector's second look

    def people(self, pixels: np.ndarray) -> Detections:
        found = self.find(pixels)
        return found[found.class_id == PERSON_ID]

    def needs_tiles(self, people: Detections, height: int) -> bool:
        if self.cfg.tiling != "auto":
            return self.cfg.tiling == "always"
        if self.looks_closer:
            return False  # the detector already looks closer where people are small (tasks/second_look.py)
        if not len(people):
            return True  # nobody at this scale: maybe everybody is small
        return float(np.median(people.xyxy[:, 3] - people.xyxy[:, 1])) < self.cfg.small_person * height

    def tiled(self, pixels: np.ndarray, whole: Detections) -> Detections:
        height, width = pixels.shape[:2]
        parts = [whole]
        for x0, y0, x1, y1 in tile_grid(width, height, self.cfg.tile_grid, self.cfg.tile_overlap):
            found = self.people(np.ascontiguousarray(pixels[y0:y1, x0:x1]))
            parts.append(Detections(found.xyxy + np.array([x0, y0, x0, y0], np.float32), found.score,
                                    found.class_id))
        merged = Detections.merge([Detections(p.xyxy, p.score, p.class_id) for p in parts])
        return merged[merge_tiles(merged.xyxy, merged.score)]

    def count(self, pixels: np.ndarray, tiles: bool | None = None) -> tuple[Detections, bool]:
        """(person boxes, whether tiles were used); tiles None: as configured."""
        whole = self.people(pixels)
        use_tiles = self.needs_tiles(whole, pixels.shape[0]) if tiles is None else tiles
        return (self.tiled(pixels, whole), True) if use_tiles else (whole, False)


def heat_from_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """A density map at 1/HEAT_SCALE of the frame with one Gaussian per person head."""
    return boxes_density(np.asarray(boxes, np.float64) / HEAT_SCALE, max(1, height // HEAT_SCALE),
                         max(1, width // HEAT_SCALE))


class DensityCounter:
    """The density regressor: frame resized to a long side of `side` (multiples of 16), map at 1/8, sum = count."""

    def __init__(self, session: Session, side: int):
        self.session, self.side = session, side

    @classmethod
    def load(cls, store: ModelStore, name: str, side: int, threads: int | None = None) -> DensityCounter:
        spec = store.spec(name)
        if spec.task != "crowd":
            raise ConfigError(f"[crowd] density_model = {name!r} is a {spec.task} model, not a crowd density model")
        side = side or max(spec.input.width, spec.input.height)
        counter = cls(open_session(store.path(name, spec.artifact_role), spec.runtime, threads), side)
        counter.density(np.full((64, 64, 3), 127, np.uint8))  # warm-up
        return counter

    def input_size(self, width: int, height: int) -> tuple[int, int]:
        scale = self.side / max(width, height)
        return (max(DENSITY_MULTIPLE, round(width * scale / DENSITY_MULTIPLE) * DENSITY_MULTIPLE),
                max(DENSITY_MULTIPLE, round(height * scale / DENSITY_MULTIPLE) * DENSITY_MULTIPLE))

    def density(self, pixels: np.ndarray) -> np.ndarray:
        w, h = self.input_size(pixels.shape[1], pixels.shape[0])
        resized = cv2.resize(pixels, (w, h), interpolation=cv2.INTER_AREA)
        tensor = np.ascontiguousarray(resized.transpose(2, 0, 1)[None], dtype=np.float32)
        return np.asarray(self.session.run([tensor])[0], np.float32)[0, 0]


@dataclass
class LevelClassifier:
    """Dense vs sparse from a backbone's pooled features (ONNX) and a logistic regression (skops)."""

    backbone: Session
    model: object
    classes: list[str]
    size: int

    @classmethod
    def load(cls, folder: Path, threads: int | None = None) -> LevelClassifier:
        manifest = _level_manifest(Path(folder))
        model = _load_skops(_verified(folder, manifest["model"], manifest["model_sha256"]))
        backbone = open_session(_verified(folder, manifest["backbone"], manifest["backbone_sha256"]),
                                "onnxruntime", threads)
        return cls(backbone, model, [str(c) for c in manifest["classes"]], int(manifest["size"]))

    def features(self, pixels: np.ndarray) -> np.ndarray:
        resized = cv2.resize(pixels, (self.size, self.size), interpolation=cv2.INTER_AREA)
        tensor = np.ascontiguousarray(resized.transpose(2, 0, 1)[None], dtype=np.float32)
        return np.asarray(self.backbone.run([tensor])[0], np.float64).reshape(1, -1)

    def dense_proba(self, pixels: np.ndarray) -> float:
        proba = self.model.predict_proba(self.features(pixels))[0]
        return float(proba[self.classes.index("dense")])


def _level_manifest(folder: Path) -> dict:
    path = folder / LEVEL_MANIFEST
    if not path.is_file():
        raise NotFound(f"no crowd level classifier in {folder}; run `vigil train crowd-level DATASET --out {folder}`")
    try:
        manifest = json.loads(path.read_text())
        _ = manifest["model"], manifest["model_sha256"], manifest["backbone"], manifest["backbone_sha256"]
        if "dense" not in manifest["classes"]:
            raise KeyError("classes lacks 'dense'")
        return manifest
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelIntegrityError(f"{path}: not a valid crowd level manifest: {exc}") from None


def _verified(folder: Path, name: str, sha256: str) -> Path:
    path = Path(folder) / name
    if not path.is_file() or sha256_of(path) != sha256:
        raise ModelIntegrityError(f"{path}: missing or its sha256 does not match {LEVEL_MANIFEST}; retrain it")
    return path


def _load_skops(path: Path) -> object:
    try:
        import sklearn  # noqa: F401  (skops needs it to rebuild the pipeline)
        from skops import io as sio
    except ImportError:
        raise ConfigError("the crowd level classifier needs scikit-learn and skops: pip install 'vigil[faces]'"
                          ) from None
    untrusted = set(sio.get_untrusted_types(file=path)) - set(LEVEL_TRUSTED)
    if untrusted:
        raise ModelIntegrityError(f"{path}: refusing to load types {sorted(untrusted)}")
    return sio.load(path, trusted=sorted(set(sio.get_untrusted_types(file=path))))
