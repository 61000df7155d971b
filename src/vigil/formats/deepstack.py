"""DeepStack / CodeProject.AI wire format: every response body of the /v1/vision routes is built here.

Success: `{"success": true, "predictions": [...], "duration": 0, "inferenceMs", "processMs", ...}`; boxes as integer
pixels `x_min, y_min, x_max, y_max`; face routes name people in `userid`, strangers as "unknown" with confidence 0.
Errors: `{"success": false, "error": "..."}` with the HTTP status DeepStack used (400, 401, 403, 500).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vigil.results import CLASS_NAME, Detections

UNKNOWN = "unknown"
_NOT_MATCHED = {UNKNOWN, "uncertain", "", "None"}


@dataclass(frozen=True)
class Timing:
    process_ms: float  # request in to answer out
    inference_ms: float  # model runs only

    def fields(self) -> dict[str, Any]:
        # DeepStack always sent duration 0; CodeProject.AI added the two millisecond fields.
        return {"duration": 0, "inferenceMs": round(self.inference_ms), "processMs": round(self.process_ms)}


def error(message: str, status: int = 400) -> dict[str, Any]:
    return {"success": False, "error": message, "code": status}


def _box(xyxy: Sequence[float]) -> dict[str, int]:
    return {"x_min": round(float(xyxy[0])), "y_min": round(float(xyxy[1])),
            "x_max": round(float(xyxy[2])), "y_max": round(float(xyxy[3]))}


def _ok(predictions: list[dict[str, Any]], timing: Timing, message: str) -> dict[str, Any]:
    return {"success": True, "message": message, "count": len(predictions), "predictions": predictions,
            **timing.fields(), "code": 200}


def detection(detections: Detections, timing: Timing) -> dict[str, Any]:
    """Object detection and custom models: `label` and `confidence` per box."""
    names = detections.data.get(CLASS_NAME)
    predictions = [{"label": str(names[i]) if names is not None else str(int(detections.class_id[i])),
                    "confidence": float(detections.score[i]), **_box(detections.xyxy[i])}
                   for i in range(len(detections))]
    found = sorted({p["label"] for p in predictions})
    return _ok(predictions, timing, f"Found {', '.join(found)}" if found else "No objects found")


def faces(detections: Detections, timing: Timing) -> dict[str, Any]:
    """Face detection: a `confidence` and a box per face."""
    predictions = [{"confidence": float(detections.score[i]), **_box(detections.xyxy[i])}
                   for i in range(len(detections))]
    return _ok(predictions, timing, f"Found {len(predictions)} face(s)" if predictions else "No faces found")


def recognition(detections: Detections, timing: Timing, min_confidence: float) -> dict[str, Any]:
    """Face recognition: `userid` and `confidence` (the similarity) per face; strangers and matches below
    `min_confidence` are "unknown" with confidence 0, as DeepStack answered."""
    names = detections.data.get("name")
    similarity = detections.data.get("similarity", detections.score)
    predictions = []
    for i in range(len(detections)):
        name = str(names[i]) if names is not None else UNKNOWN
        score = float(similarity[i])
        known = name not in _NOT_MATCHED and score >= min_confidence
        predictions.append({"userid": name if known else UNKNOWN, "confidence": score if known else 0.0,
                            **_box(detections.xyxy[i])})
    people = sorted({p["userid"] for p in predictions if p["userid"] != UNKNOWN})
    message = f"Found {', '.join(people)}" if people else ("No known faces" if predictions else "No faces found")
    return _ok(predictions, timing, message)


def registered(userid: str, faces_added: int, warning: str | None = None) -> dict[str, Any]:
    """DeepStack's success shape; `warning` (Vigil's addition) names another person the face already matched."""
    body = {"success": True, "message": "face added", "userid": userid, "count": faces_added, "code": 200}
    return {**body, "warning": warning} if warning else body


def face_list(names: Sequence[str]) -> dict[str, Any]:
    return {"success": True, "faces": list(names), "code": 200}


def face_deleted(userid: str, removed: int) -> dict[str, Any]:
    return {"success": True, "message": f"deleted {removed} face(s) of {userid}", "code": 200}


def match(similarity: float, timing: Timing) -> dict[str, Any]:
    return {"success": True, "similarity": float(similarity), **timing.fields(), "code": 200}


def custom_list(models: Sequence[str]) -> dict[str, Any]:
    """CodeProject.AI's model listing (/v1/vision/custom/list): the names a custom call accepts."""
    return {"success": True, "models": list(models), "message": f"Found {len(models)} models", "code": 200}


def scene(label: str, confidence: float, timing: Timing) -> dict[str, Any]:
    """CodeProject.AI's scene classification: one `label` and its `confidence` for the whole image."""
    return {"success": True, "label": label, "confidence": float(confidence), "message": f"Found {label}",
            **timing.fields(), "code": 200}
