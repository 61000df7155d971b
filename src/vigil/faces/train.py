"""Train the seed's face classifiers on gallery embeddings (extra `faces`: scikit-learn, xgboost, skops,
matplotlib; never torch).

- SVM: GridSearchCV over a linear and an RBF kernel, C and gamma over 1e-3…100, probability=True,
  class_weight="balanced" (the seed's recipe), inside a StandardScaler pipeline.
- XGBoost: RandomizedSearchCV (20 draws) over min_child_weight, gamma, subsample, colsample_bytree and
  max_depth; learning rate 0.02 and 600 trees, as the seed.
Both: stratified k-fold (5, fewer when a class is small), a stratified 20% held-out test set, a
classification report, macro F1 and a confusion-matrix PNG. The result is saved without pickle (skops
with a type allow-list, or XGBoost JSON) next to a manifest holding its sha256 (faces/identity_model.py).
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vigil.errors import BadInput
from vigil.faces.gallery.gallery import Gallery
from vigil.faces.identity_model import MANIFEST, FaceIdentityModel, _extra
from vigil.registry.store import sha256_of

log = logging.getLogger(__name__)
GRID = [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0]
XGB_SPACE = {"min_child_weight": [1, 5, 10], "gamma": [0.5, 1, 1.5, 2, 5], "subsample": [0.6, 0.8, 1.0],
             "colsample_bytree": [0.6, 0.8, 1.0], "max_depth": [3, 4, 5]}
MIN_PER_CLASS = 3


@dataclass
class TrainReport:
    kind: str
    classes: list[str]
    train_size: int
    test_size: int
    folds: int
    best_params: dict
    cv_f1: float
    test_accuracy: float
    test_f1: float
    report: str
    confusion: list[list[int]]
    folder: Path

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["folder"] = str(self.folder)
        return d


def gallery_dataset(gallery: Gallery) -> tuple[np.ndarray, np.ndarray]:
    m = gallery.matrix()
    return m.embeddings, np.array([m.names[int(i)] for i in m.person_ids], dtype=object)


def _check(y: np.ndarray) -> None:
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise BadInput("training needs at least two people in the gallery (the seed also used an 'Unknown' class)")
    small = [f"{c} ({n})" for c, n in zip(classes, counts, strict=True) if n < MIN_PER_CLASS]
    if small:
        raise BadInput(f"every person needs at least {MIN_PER_CLASS} samples to train and test; too few: "
                       + ", ".join(small))


def _search(kind: str, folds, seed: int, trees: int, draws: int):
    ms = _extra("sklearn.model_selection").model_selection
    if kind == "svm":
        _extra("sklearn")
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        grid = [{"svc__kernel": ["linear"], "svc__C": GRID},
                {"svc__kernel": ["rbf"], "svc__C": GRID, "svc__gamma": GRID}]
        # probability=True is the seed's recipe; scikit-learn 1.9 deprecates it (removal in 1.11, pinned below)
        warnings.filterwarnings("ignore", message=".*probability.*parameter was deprecated", category=FutureWarning)
        model = make_pipeline(StandardScaler(), SVC(probability=True, class_weight="balanced", random_state=seed))
        return ms.GridSearchCV(model, grid, scoring="f1_macro", cv=folds, n_jobs=1)
    xgboost = _extra("xgboost")
    model = xgboost.XGBClassifier(learning_rate=0.02, n_estimators=trees, random_state=seed, n_jobs=1,
                                  eval_metric="mlogloss")
    return ms.RandomizedSearchCV(model, XGB_SPACE, n_iter=draws, scoring="f1_macro", cv=folds, random_state=seed,
                                 n_jobs=1)


def train(x: np.ndarray, y: np.ndarray, kind: str, folder: Path, embedder: str = "", seed: int = 0,
          trees: int = 600, draws: int = 20) -> TrainReport:
    if kind not in ("svm", "xgb"):
        raise BadInput(f"unknown classifier {kind!r}: choose svm or xgb")
    _check(y)
    metrics = _extra("sklearn.metrics").metrics
    ms = _extra("sklearn.model_selection").model_selection
    classes = sorted(set(y.tolist()))
    target = np.searchsorted(classes, y)
    x_train, x_test, y_train, y_test = ms.train_test_split(x, target, test_size=0.2, stratify=target,
                                                           random_state=seed)
    if len(np.unique(y_test)) < len(classes):
        log.warning("some people have no held-out test sample; add more images for a fair test")
    folds_n = int(max(2, min(5, np.bincount(y_train).min())))
    folds = ms.StratifiedKFold(folds_n, shuffle=True, random_state=seed)
    search = _search(kind, folds, seed, trees, draws).fit(x_train, y_train)
    predicted = search.best_estimator_.predict(x_test)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _save(search.best_estimator_, kind, classes, folder, embedder, search.best_params_)
    confusion = metrics.confusion_matrix(y_test, predicted, labels=range(len(classes)))
    _plot(confusion, classes, folder / "confusion.png", kind)
    report = TrainReport(
        kind, classes, len(x_train), len(x_test), folds_n, {k: _plain(v) for k, v in search.best_params_.items()},
        float(search.best_score_), float(metrics.accuracy_score(y_test, predicted)),
        float(metrics.f1_score(y_test, predicted, average="macro", labels=range(len(classes)), zero_division=0)),
        metrics.classification_report(y_test, predicted, labels=range(len(classes)), target_names=classes,
                                      zero_division=0), confusion.tolist(), folder)
    _update_manifest(folder, report)
    FaceIdentityModel.load(folder)  # what was written must load back (sha256, allow-list)
    return report


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _save(model, kind: str, classes: list[str], folder: Path, embedder: str, params: dict) -> None:
    if kind == "svm":
        sio = _extra("skops.io").io
        path = folder / "model.skops"
        sio.dump(model, path)
    else:
        path = folder / "model.json"
        model.save_model(str(path))
    manifest = {"kind": kind, "file": path.name, "sha256": sha256_of(path), "classes": classes,
                "embedder": embedder, "params": {k: _plain(v) for k, v in params.items()}}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))


def _update_manifest(folder: Path, report: TrainReport) -> None:
    path = folder / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["metrics"] = {"cv_f1": report.cv_f1, "test_accuracy": report.test_accuracy, "test_f1": report.test_f1,
                           "train_size": report.train_size, "test_size": report.test_size}
    path.write_text(json.dumps(manifest, indent=2))


def _plot(confusion: np.ndarray, classes: list[str], path: Path, kind: str) -> None:
    matplotlib = _extra("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(4, 0.5 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for (i, j), v in np.ndenumerate(confusion):
        ax.text(j, i, str(v), ha="center", va="center")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{kind.upper()} held-out confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
