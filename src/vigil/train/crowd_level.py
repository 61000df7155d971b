"""`vigil train crowd-level`: the seed's dense/sparse scene classifier, on backbone features.

Features come from an ONNX export of the store's ImageNet MobileNetV2 (normalisation and global pooling inside),
the same file serving runs, so training and serving see identical numbers. The classifier is a logistic regression
after a standard scaler; class imbalance is handled with SMOTE inside an imbalanced-learn pipeline (so oversampling
happens within each cross-validation fold, never leaking into the held-out fold) and C is grid-searched with
stratified folds. What is saved (skops, no pickle) is the fitted scaler + regression only: serving needs neither
imbalanced-learn nor torch.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from vigil.errors import BadInput, VigilError
from vigil.imaging import images
from vigil.registry.store import ModelStore, sha256_of
from vigil.runtimes.session import open_session
from vigil.tasks.crowd_models import LEVEL_MANIFEST, LevelClassifier
from vigil.train.archs import MobileNetV2
from vigil.train.crowd import BACKBONE
from vigil.train.crowd_data import IMAGE_SUFFIXES
from vigil.train.density import MEAN, STD, nested_mobilenet_v2

CLASSES = ("dense", "sparse")
SIZE = 224
GRID_C = (0.001, 0.01, 0.1, 1.0, 10.0)


class PooledBackbone(nn.Module):
    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.backbone((x - self.mean) / self.std), 1).flatten(1)


def export_backbone(store: ModelStore, path: Path) -> Path:
    store.pull(BACKBONE)
    model = MobileNetV2()
    state = torch.load(store.path(BACKBONE, "weights"), map_location="cpu", weights_only=True)
    model.load_state_dict(nested_mobilenet_v2(state))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(PooledBackbone(model).eval(), (torch.zeros(1, 3, SIZE, SIZE),), str(path), dynamo=False,
                          input_names=["input"], output_names=["features"], opset_version=17)
    return path


def level_images(dataset: Path) -> tuple[list[Path], np.ndarray]:
    paths, labels = [], []
    for label, name in enumerate(CLASSES):
        folder = Path(dataset) / name
        if not folder.is_dir():
            raise BadInput(f"{dataset}: expected sub-folders dense/ and sparse/ (missing {name}/)")
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += found
        labels += [label] * len(found)
    counts = np.bincount(labels, minlength=2)
    if counts.min() < 2:
        raise BadInput(f"{dataset}: each of dense/ and sparse/ needs at least 2 images (found {counts.tolist()})")
    return paths, np.asarray(labels)


def extract(level: LevelClassifier, paths: list[Path]) -> np.ndarray:
    rows = []
    for path in tqdm(paths, desc="features", unit="img", leave=False):
        try:
            rows.append(level.features(images.load(path).pixels)[0])
        except VigilError as exc:
            raise BadInput(f"{path}: {exc}") from None
    return np.stack(rows)


def fit(features: np.ndarray, labels: np.ndarray, seed: int = 0):
    """GridSearchCV over C of SMOTE → scaler → logistic regression, stratified folds; returns the search."""
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import Pipeline
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    minority = int(np.bincount(labels).min())
    folds = max(2, min(5, minority))
    neighbours = max(1, min(5, minority * (folds - 1) // folds - 1))
    pipeline = Pipeline([("smote", SMOTE(k_neighbors=neighbours, random_state=seed)), ("scale", StandardScaler()),
                         ("lr", LogisticRegression(max_iter=5000))])
    search = GridSearchCV(pipeline, {"lr__C": list(GRID_C)}, scoring="balanced_accuracy",
                          cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    return search.fit(features, labels)


def train_level(dataset: Path, out: Path, store: ModelStore | None = None, seed: int = 0) -> dict:
    from sklearn.pipeline import Pipeline
    from skops import io as sio

    out.mkdir(parents=True, exist_ok=True)
    paths, labels = level_images(dataset)
    backbone = export_backbone(store or ModelStore(), out / "backbone.onnx")
    level = LevelClassifier(open_session(backbone, "onnxruntime"), None, list(CLASSES), SIZE)
    search = fit(extract(level, paths), labels, seed)
    best = search.best_estimator_
    serving = Pipeline([("scale", best.named_steps["scale"]), ("lr", best.named_steps["lr"])])
    sio.dump(serving, out / "level.skops")
    manifest = {
        "model": "level.skops", "model_sha256": sha256_of(out / "level.skops"),
        "backbone": "backbone.onnx", "backbone_sha256": sha256_of(backbone), "backbone_weights": BACKBONE,
        "classes": [CLASSES[int(c)] for c in best.named_steps["lr"].classes_], "size": SIZE,
        "best_c": search.best_params_["lr__C"], "cv_balanced_accuracy": round(float(search.best_score_), 4),
        "images": {name: int((labels == i).sum()) for i, name in enumerate(CLASSES)}, "seed": seed,
    }
    (out / LEVEL_MANIFEST).write_text(json.dumps(manifest, indent=2))
    return {"out": str(out), **manifest}
