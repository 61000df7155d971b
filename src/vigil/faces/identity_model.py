"""The seed's face identity models: an SVM or XGBoost classifier over 128-d face embeddings (user-facing name:
`faces.mode = "classifier"`, `vigil faces train`), loaded without pickle.

A classifier folder holds `classifier.json` (kind, classes, embedder, the model file's sha256, training
metrics) and the model file: an SVM pipeline saved with skops (loaded only if every type in it is on an
explicit allow-list) or an XGBoost booster in XGBoost's own JSON format. The sha256 is checked on every
load. Loading needs the `faces` extra (scikit-learn, skops, xgboost), never torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vigil.errors import ConfigError, ModelIntegrityError, NotFound
from vigil.registry.store import sha256_of

MANIFEST = "classifier.json"
# every type a saved StandardScaler + SVC pipeline contains; anything else in a file is refused
SKOPS_TRUSTED = [
    "sklearn.pipeline.Pipeline", "sklearn.preprocessing._data.StandardScaler", "sklearn.svm._classes.SVC",
    "numpy.ndarray", "numpy.dtype", "numpy.float64", "numpy.int32", "numpy.int64", "builtins.float",
    "builtins.int", "builtins.str", "builtins.bool", "builtins.list", "builtins.dict", "builtins.tuple",
    "builtins.NoneType",
]


@dataclass
class FaceIdentityModel:
    kind: str
    classes: list[str]
    embedder: str
    model: object
    manifest: dict

    @classmethod
    def load(cls, folder: Path) -> FaceIdentityModel:
        manifest_path = Path(folder) / MANIFEST
        if not manifest_path.is_file():
            raise NotFound(f"no trained face classifier in {folder}; run `vigil faces train --model svm|xgb`")
        try:
            manifest = json.loads(manifest_path.read_text())
            kind, file, expected = manifest["kind"], manifest["file"], manifest["sha256"]
            classes = [str(c) for c in manifest["classes"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelIntegrityError(f"{manifest_path}: not a valid classifier manifest: {exc}") from None
        path = Path(folder) / file
        if not path.is_file() or sha256_of(path) != expected:
            raise ModelIntegrityError(f"{path}: missing or its sha256 does not match {MANIFEST}; retrain it")
        model = _load_model(kind, path)
        return cls(kind, classes, str(manifest.get("embedder", "")), model, manifest)

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, classes) probabilities, columns in `classes` order."""
        x = np.asarray(embeddings, np.float64).reshape(-1, 128)
        if not len(x):
            return np.zeros((0, len(self.classes)))
        return np.asarray(self.model.predict_proba(x), np.float64)

    def predict(self, embeddings: np.ndarray, min_proba: float) -> list[tuple[str | None, float]]:
        """Seed semantics: (class, proba) of the argmax, class None when proba < min_proba."""
        out = []
        for row in self.predict_proba(embeddings):
            j = int(np.argmax(row))
            out.append((self.classes[j] if row[j] >= min_proba else None, float(row[j])))
        return out


def _extra(name: str):
    try:
        return __import__(name)
    except ImportError:
        raise ConfigError(f"classifier mode needs {name}: pip install 'vigil[faces]'") from None


def _load_model(kind: str, path: Path):
    if kind == "svm":
        _extra("sklearn")
        sio = _extra("skops.io").io
        untrusted = set(sio.get_untrusted_types(file=path)) - set(SKOPS_TRUSTED)
        if untrusted:
            raise ModelIntegrityError(f"{path}: refusing to load types {sorted(untrusted)}")
        return sio.load(path, trusted=sorted(set(sio.get_untrusted_types(file=path))))
    if kind == "xgb":
        xgboost = _extra("xgboost")
        model = xgboost.XGBClassifier()
        try:
            model.load_model(str(path))
        except xgboost.core.XGBoostError as exc:
            raise ModelIntegrityError(f"{path}: XGBoost cannot read it: {exc}") from None
        return model
    raise ModelIntegrityError(f"unknown classifier kind {kind!r}")
