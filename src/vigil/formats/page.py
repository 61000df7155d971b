"""Bodies of the JSON routes the web page adds (/v2/ui/..., /v2/samples/..., /v2/strangers/...)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vigil.results import Detections

NOT_MATCHED = ("unknown", "uncertain")


def _number(value: Any, digits: int = 4) -> float | None:
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def box(xyxy: Any) -> list[float]:
    return [round(float(v), 1) for v in xyxy]


def faces(found: Detections) -> list[dict[str, Any]]:
    """Recogniser output, one row per face: box, detector score, name, state (known / unknown / uncertain),
    similarity (null when not compared) and quality (ok / small / blurry)."""
    names = found.data.get("name", np.array(["unknown"] * len(found), dtype=object))
    similarity = found.data.get("similarity", np.full(len(found), np.nan))
    quality = found.data.get("quality", np.array(["ok"] * len(found), dtype=object))
    rows = []
    for i in range(len(found)):
        name = str(names[i])
        rows.append({"box": box(found.xyxy[i]), "score": _number(found.score[i]), "name": name,
                     "state": name if name in NOT_MATCHED else "known", "similarity": _number(similarity[i]),
                     "quality": str(quality[i])})
    return rows


def face_checks(checks: list[Any], scale: float) -> list[dict[str, Any]]:
    """Faces found in an enrolment photo (FaceCheck rows), boxes in the original image's pixels."""
    return [{"box": box(np.asarray(c.xyxy) / scale), "score": _number(c.score), "quality": c.quality} for c in checks]


def enrolled(file: str, outcome: str, checks: list[dict[str, Any]], width: int, height: int) -> dict[str, Any]:
    return {"file": file, "outcome": outcome, "faces": checks, "width": width, "height": height}


def person(summary: Any, samples: list[tuple[int, str, float]]) -> dict[str, Any]:
    return {"name": summary.name, "samples": [{"id": int(i), "source": source, "created": created}
                                              for i, source, created in samples]}


def cluster(row: Any, face_ids: list[int]) -> dict[str, Any]:
    return {"id": row.id, "faces": row.faces, "sightings": row.sightings, "first_seen": row.first_seen,
            "last_seen": row.last_seen, "face_ids": face_ids}


def features(routes: set[str], tasks: list[dict[str, str]], faces_on: bool, keys: dict[str, bool],
             session: dict[str, bool], event_log: bool = False, watching: bool = False,
             cameras: bool = False) -> dict[str, Any]:
    """What is served: `events`, `events_stream` and `status` when their routes are, `presence` and `crowd` when
    their tasks are. `event_log`: there is a log to read (a watcher here, or one written by `vigil watch`);
    `watching`: the watcher runs in this process (without it the stream follows the log another process writes);
    `cameras`: live cameras ([cameras.<name>] with a source) or the watcher's folder cameras named there run here and
    /v2/cameras serves them."""
    served = {t["name"] for t in tasks}
    return {"faces": faces_on, "presence": "presence" in served, "crowd": "crowd" in served, "tasks": tasks,
            "events": "/v2/events" in routes, "events_stream": "/v2/events/stream" in routes, "event_log": event_log,
            "watching": watching, "status": "/v2/status" in routes, "keys": keys, "session": session,
            "cameras": cameras and "/v2/cameras" in routes}
