"""`vigil track --json`: one source's tracks, line counts and zones as one JSON object.

A track's `boxes` are `[frame, x1, y1, x2, y2, score]` rows in source pixels; `best` is its best view. Zone
`dwell_s` is keyed by track id as a string (JSON keys are strings).
"""

from __future__ import annotations

from typing import Any

from vigil.formats.events import topic_id, topic_part
from vigil.results import Loitering, Track, TrackReport, ZoneReport


def track(entry: Track, is_stationary: bool) -> dict[str, Any]:
    frame, _, box, score = entry.boxes[entry.best]
    return {"id": entry.id, "label": entry.label, "first_frame": entry.first_frame, "last_frame": entry.last_frame,
            "first_time": round(entry.first_time, 3), "last_time": round(entry.last_time, 3),
            "stationary": is_stationary, "best": {"frame": frame, "box": list(box), "score": score},
            "boxes": [[f, *b, s] for f, _, b, s in entry.boxes], **track_face(entry)}


def track_face(entry: Track) -> dict[str, Any]:
    """A person track's best face and who it is, when faces were looked for and one was found."""
    face = entry.face
    if face is None:
        return {}
    who = {"name": face.name} if face.name is not None else {}
    if face.cluster_id is not None:
        who["cluster"] = face.cluster_id
    return {"best_face": {"frame": face.frame, "box": list(face.box), "score": face.score}, **who}


def zone(report: ZoneReport) -> dict[str, Any]:
    return {"now": dict(report.now), "max": dict(report.max),
            "dwell_s": {str(k): v for k, v in report.dwell_s.items()}, "loitering": list(report.loitering)}


def report(found: TrackReport) -> dict[str, Any]:
    document: dict[str, Any] = {
        "source": found.source, "frames": found.frames, "analysed": found.analysed,
        "skipped_by_motion": found.skipped_by_motion, "dropped": found.dropped, "reconnects": found.reconnects,
        "width": found.width, "height": found.height,
        "tracks": [track(t, found.stationary.get(t.id, False)) for t in found.tracks],
        "lines": {name: dict(counts) for name, counts in found.lines.items()},
        "zones": {name: zone(z) for name, z in found.zones.items()},
    }
    if found.error:
        document["error"] = found.error
    return document


# --- MQTT: a camera feed's state (events/camera_feed.py) ------------------------------------------------------------

def camera_available_topic(prefix: str, camera: str) -> str:
    """`online` / `offline`, retained: the camera's stream is connected or not."""
    return f"{prefix}/{topic_id(camera)}/available"


def zone_topic(prefix: str, camera: str, zone_name: str, label: str) -> str:
    """How many of `label` are in the zone now, a bare integer, retained."""
    return f"{prefix}/{topic_id(camera)}/{topic_part(zone_name)}/{topic_part(label)}"


def line_topic(prefix: str, camera: str, line: str) -> str:
    """`{"in": n, "out": m}` since the feed started, retained."""
    return f"{prefix}/{topic_id(camera)}/line/{topic_part(line)}"


def loitering_topic(prefix: str, camera: str) -> str:
    return f"{prefix}/{topic_id(camera)}/loitering"


def loitering(camera: str, event: Loitering) -> dict[str, Any]:
    return {"camera": camera, "zone": event.zone, "track_id": event.track_id, "label": event.label,
            "dwell_s": round(event.dwell_s, 2), "time_s": round(event.time_s, 3)}
