"""Bodies of the native /v2 API: each task's answer (a seed entry), errors, people in the gallery, model rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from vigil.formats.seed import to_seed
from vigil.results import CLASS_NAME, Detections, ImageResult

NOT_MATCHED = ("unknown", "uncertain")


def detections(image: str, found: Detections) -> dict[str, Any]:
    """The detect and classify tasks' answer: one seed entry."""
    return to_seed(ImageResult(image, found))


def recognized(image: str, found: Detections) -> dict[str, Any]:
    """The faces task's answer: one seed entry whose labels are the faces (see `face_labels`)."""
    return to_seed(ImageResult(image, face_labels(found)))


def face_labels(found: Detections) -> Detections:
    """Recogniser output as seed labels: name "face", `face` = the person (None when unknown or uncertain),
    `faceProba` = the similarity. The seed format carries identities this way, so /v2 needs no other shape."""
    names = found.data.get("name", np.array(["unknown"] * len(found), dtype=object))
    similarity = found.data.get("similarity", found.score)
    who = np.array([None if str(n) in NOT_MATCHED else str(n) for n in names], dtype=object)
    return Detections(found.xyxy, found.score, np.zeros(len(found), np.int64),
                      {CLASS_NAME: np.array(["face"] * len(found), dtype=object), "face": who,
                       "faceProba": np.asarray(similarity, dtype=np.float32)})


def image_error(image: str, message: str) -> dict[str, Any]:
    """One image that could not be used, in `vigil run`'s answer."""
    return {"image": image, "error": message}


def error(message: str, kind: str, status: int) -> dict[str, Any]:
    return {"error": message, "type": kind, "status": status}


def people(rows: list[Any]) -> list[dict[str, Any]]:
    """Gallery people: objects with `.name` and a sample count (`.samples` or `.count`)."""
    return [{"name": row.name, "samples": int(getattr(row, "samples", getattr(row, "count", 0)))} for row in rows]


def plain(value: Any) -> Any:
    """A dataclass-like report as JSON-able data (EnrollReport and the like)."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def removed(name: str, samples: int) -> dict[str, Any]:
    return {"name": name, "removed": samples}


def renamed(new: str, old: str) -> dict[str, Any]:
    return {"name": new, "was": old}


def pulled(name: str, folder: Any) -> dict[str, Any]:
    return {"name": name, "folder": str(folder)}


def model_row(spec: Any, present: bool, serving: bool) -> dict[str, Any]:
    return {"name": spec.name, "task": spec.task, "format": spec.format, "present": present, "serving": serving,
            "licence": spec.licence}


def health(ready: bool) -> dict[str, Any]:
    return {"status": "ok" if ready else "loading"}


def readiness(ready: bool, model: str, reason: str | None = None) -> dict[str, Any]:
    return {"ready": ready, "model": model, **({"reason": reason} if reason else {})}


def presence(image: str, result: Any) -> dict[str, Any]:
    """One image's presence answer (a results.Presence)."""
    return {"image": image, "person": bool(result.person), "score": round(float(result.score), 4),
            "model": result.model}


def image_failed(image: str, message: str) -> dict[str, Any]:
    """A per-image entry for an input that could not be used (the rest of the batch goes on)."""
    return {"image": image, "error": message}


def crowd(image: str, estimate: Any) -> dict[str, Any]:
    """One image's crowd answer (a CrowdEstimate); the heatmap PNG, when present, as base64."""
    if estimate.error is not None:
        return {"image": image, "error": estimate.error}
    body: dict[str, Any] = {
        "image": image, "count": round(float(estimate.count)), "estimate": round(float(estimate.count), 2),
        "level": estimate.level, "estimator": estimate.estimator,
        "dense_proba": None if estimate.dense_proba is None else round(float(estimate.dense_proba), 4),
        "width": estimate.width, "height": estimate.height,
    }
    if len(estimate.people):
        body["people"] = [[round(float(v), 1) for v in box] for box in estimate.people.xyxy]
    if estimate.heatmap_png is not None:
        import base64

        body["heatmap_png"] = base64.b64encode(estimate.heatmap_png).decode("ascii")
    return body
