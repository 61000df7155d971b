"""The original camera servers' JSON: [{"image", "labels": [{"id", "name", "score", "box"}]}].

Face fields (`face`, `faceProba`) appear on a label when the detections carry them in `data`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vigil.errors import BadInput
from vigil.results import CLASS_NAME, Detections, ImageResult

BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def label_dicts(d: Detections) -> list[dict[str, Any]]:
    names = d.data.get(CLASS_NAME)
    labels = []
    for i in range(len(d)):
        label: dict[str, Any] = {
            "id": int(d.class_id[i]),
            "name": str(names[i]) if names is not None else str(int(d.class_id[i])),
            "score": float(d.score[i]),
            "box": dict(zip(BOX_KEYS, (float(v) for v in d.xyxy[i]), strict=True)),
        }
        for key in ("face", "faceProba"):
            if key in d.data:
                label[key] = _plain(d.data[key][i])
        labels.append(label)
    return labels


def to_seed(result: ImageResult) -> dict[str, Any]:
    entry: dict[str, Any] = {"image": result.image, "labels": label_dicts(result.detections)}
    if result.error is not None:
        entry["error"] = result.error
    return entry


def from_seed(entry: Any) -> ImageResult:
    """One `detect_objects` entry back into a typed result (what `detect_faces` receives)."""
    if not isinstance(entry, dict) or "labels" not in entry:
        raise BadInput("each entry needs 'image' and 'labels'")
    labels = entry["labels"] or []
    if not isinstance(labels, list):
        raise BadInput(f"'labels' of {str(entry.get('image'))[:200]!r} must be a list")
    try:
        xyxy = [[float(label["box"][k]) for k in BOX_KEYS] for label in labels]
        score = [float(label.get("score", 0.0)) for label in labels]
        class_id = [int(label.get("id", -1)) for label in labels]
        names = np.array([str(label.get("name", "")) for label in labels], dtype=object)
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
        raise BadInput(f"malformed label in entry for {str(entry.get('image'))[:200]!r}: {exc}") from None
    detections = Detections(np.array(xyxy, np.float32).reshape(-1, 4), score, class_id, {CLASS_NAME: names})
    return ImageResult(image=str(entry.get("image", "")), detections=detections, error=entry.get("error"))


def entries_from_seed(objects: Any, max_entries: int, max_labels: int) -> list[ImageResult]:
    """What detect_faces / /v2/faces/label receive: a list over `max_entries` is refused whole (before any is parsed);
    a malformed entry, or one with more than `max_labels` labels, becomes that entry's own error."""
    if not isinstance(objects, list):
        raise BadInput("detect_faces takes the list detect_objects returned")
    if len(objects) > max_entries:
        raise BadInput(f"{len(objects)} entries in one call, over the limit of {max_entries} ([limits] max_entries)")
    return [_entry_or_error(o, max_labels) for o in objects]


def _entry_or_error(obj: Any, max_labels: int) -> ImageResult:
    image = str(obj.get("image", ""))[:4096] if isinstance(obj, dict) else ""
    labels = obj.get("labels") if isinstance(obj, dict) else None
    if isinstance(labels, list) and len(labels) > max_labels:
        return ImageResult(image, error=f"{len(labels)} labels, over the limit of {max_labels} ([limits] max_labels)")
    try:
        return from_seed(obj)
    except BadInput as exc:
        return ImageResult(image, error=str(exc))
