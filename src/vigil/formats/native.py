"""Bodies of the native /v2 API that are not seed entries: errors, people in the gallery, model rows."""

from __future__ import annotations

from typing import Any


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


def readiness(ready: bool, model: str) -> dict[str, Any]:
    return {"ready": ready, "model": model}


def presence(image: str, result: Any) -> dict[str, Any]:
    """One image's presence answer (a results.Presence)."""
    return {"image": image, "person": bool(result.person), "score": round(float(result.score), 4),
            "model": result.model}


def image_failed(image: str, message: str) -> dict[str, Any]:
    """A per-image entry for an input that could not be used (the rest of the batch goes on)."""
    return {"image": image, "error": message}
