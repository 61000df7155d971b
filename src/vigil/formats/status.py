"""The body of `GET /v2/status`: what an operator needs on one screen, from Prometheus samples (name → label values
→ value, as the executor's registry collects them) and the event service's cameras."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import quote

from vigil.formats.events import iso

Samples = dict[str, dict[tuple[str, ...], float]]


def camera(name: str, last: Any) -> dict[str, Any]:
    """A watched camera and its last frame (a LastFrame, or None when this process has not seen one)."""
    seen = last is not None
    return {"name": name, "last_frame_time": last.time if seen else None,
            "last_frame": iso(last.time) if seen else None, "file": last.path if seen else None,
            "thumbnail": f"v2/status/cameras/{quote(name, safe='')}/frame.jpg"
            if seen and last.thumbnail is not None else None}


def mqtt(host: str, port: int, running: bool, connected: bool) -> dict[str, Any]:
    """`configured`: [mqtt] host set; `running`: a publisher in this process (the watcher runs here)."""
    return {"configured": bool(host), "broker": f"{host}:{port}" if host else None, "running": running,
            "connected": connected}


def models(samples: Samples) -> list[dict[str, Any]]:
    """Each (task, model) in use: runs, mean run time, mean batch, images/s of model time, queue depth, refusals."""
    sums, counts = samples.get("vigil_model_seconds_sum", {}), samples.get("vigil_model_seconds_count", {})
    images = samples.get("vigil_batch_size_sum", {})
    depth, rejected = samples.get("vigil_queue_depth", {}), samples.get("vigil_rejected_total", {})
    rows = []
    for key in sorted(set(depth) | set(counts)):
        runs, seconds = int(counts.get(key, 0)), sums.get(key, 0.0)
        rows.append({"task": key[0], "model": key[1], "runs": runs,
                     "mean_ms": round(1000 * seconds / runs, 1) if runs else None,
                     "mean_batch": round(images.get(key, 0) / runs, 2) if runs else None,
                     "images_per_s": round(images.get(key, 0) / seconds, 1) if seconds > 0 else None,
                     "queue": int(depth.get(key, 0)), "rejected": int(rejected.get(key, 0))})
    return rows


def errors(samples: Samples) -> dict[str, Any]:
    """Answers by status class (4xx, 5xx), watched frames that failed, frames dropped from full camera queues."""
    by_class: Counter[str] = Counter()
    for labels, value in samples.get("vigil_requests_total", {}).items():
        status = labels[2] if len(labels) > 2 else ""
        if status[:1] in ("4", "5"):
            by_class[status[0] + "xx"] += int(value)
    frames = samples.get("vigil_watch_frames_total", {})
    return {"http_4xx": by_class["4xx"], "http_5xx": by_class["5xx"],
            "frames_failed": int(sum(v for k, v in frames.items() if k[-1] == "error")),
            "frames_dropped": int(sum(samples.get("vigil_watch_dropped_total", {}).values()))}


def status(version: str, ready: bool, accepting: bool, samples: Samples, cameras: list[dict[str, Any]],
           broker: dict[str, Any]) -> dict[str, Any]:
    frames = samples.get("vigil_watch_frames_total", {})
    for row in cameras:
        row["frames"] = {outcome: int(v) for (cam, outcome), v in frames.items() if cam == row["name"]}
    watch_queue = samples.get("vigil_watch_queue", {})
    return {"version": version, "ready": ready, "accepting": accepting, "cameras": cameras, "mqtt": broker,
            "models": models(samples),
            "watch_queue": int(sum(watch_queue.values())) if watch_queue else None,
            "errors": errors(samples),
            "requests": int(sum(samples.get("vigil_requests_total", {}).values()))}
