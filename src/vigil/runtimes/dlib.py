"""dlib models: the built-in HOG face detector, the MMOD CNN detector, the 5-point shape predictor and
the ResNet face encoder. dlib reads its own serialisation format (no pickle); a file it cannot parse
becomes ModelIntegrityError. dlib releases the GIL inside its heavy calls, so threads help."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from vigil.errors import ModelIntegrityError, NotFound

_lock = threading.Lock()
_cache: dict[tuple[str, str], Any] = {}


def _dlib():
    try:
        import dlib
    except ImportError:  # pragma: no cover - dlib-bin is a core dependency
        raise NotFound("dlib is not installed: pip install dlib-bin") from None
    return dlib


def _load(kind: str, path: Path | None, factory) -> Any:
    """One instance per file and process, for models whose calls are const (shape predictor, encoder): safe to share."""
    key = (kind, str(path))
    with _lock:
        if key not in _cache:
            _cache[key] = _new(kind, path, factory)
        return _cache[key]


def _new(kind: str, path: Path | None, factory) -> Any:
    try:
        return factory()
    except RuntimeError as exc:  # dlib's serialization errors arrive as RuntimeError
        raise ModelIntegrityError(f"{path}: dlib cannot read this {kind} model: {exc}") from None


def hog_detector() -> Any:
    """A new HOG detector: its scanner keeps the last image's feature pyramid, so one may not run in two threads."""
    return _new("hog", None, lambda: _dlib().get_frontal_face_detector())


def cnn_detector(path: Path) -> Any:
    """A new MMOD network: its layers keep the last forward pass, so one may not run in two threads."""
    return _new("mmod", path, lambda: _dlib().cnn_face_detection_model_v1(str(path)))


def shape_predictor(path: Path) -> Any:
    return _load("shape", path, lambda: _dlib().shape_predictor(str(path)))


def face_encoder(path: Path) -> Any:
    return _load("resnet", path, lambda: _dlib().face_recognition_model_v1(str(path)))


def rectangle(x0: float, y0: float, x1: float, y1: float) -> Any:
    return _dlib().rectangle(round(float(x0)), round(float(y0)), round(float(x1)), round(float(y1)))


def full_object_detections() -> Any:
    return _dlib().full_object_detections()


def face_chips(rgb, shapes, size: int = 150, padding: float = 0.25) -> list:
    return _dlib().get_face_chips(rgb, shapes, size=size, padding=padding)
