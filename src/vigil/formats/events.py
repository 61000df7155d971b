"""Events on the wire: the event JSON (/v2/events, the SSE stream, `vigil events list --json`, MQTT `vigil/events`),
the other MQTT topics and payloads, and the Home Assistant discovery configs.

Topics (prefix "vigil" by default):
  <prefix>/available                     "online" / "offline" (retained; the last will says offline)
  <prefix>/events                        event JSON with "type": new / update / end (QoS 1)
  <prefix>/<camera>/<label>              how many of the label's events (one per track) are open, a bare integer,
                                         retained; "0" when the last one ends
  <prefix>/<camera>/face/<name>          a known face seen (JSON)
  <prefix>/<camera>/face/unknown         a stranger, once per cluster and camera per hold time (JSON)
  <prefix>/matches/<name>                Double Take's match shape, so its automations carry over

A camera or name is its own topic level when it is one already (ASCII letters, digits, '_', '.', '-'); any other is
a readable slug plus the first 6 hex of the sha1 of its UTF-8 (`gate_1_4f30b7`; 李娜: `_5b23a2`), so 李娜 and 王伟, or
`gate+#1` and `gate 1`, never share a topic or a Home Assistant unique id. Home Assistant shows the real name.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from vigil.results import Event, EventChange

FACE = "face"  # the label of face events
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def topic_part(text: str) -> str:
    """One topic level (and discovery object id) from a camera, label or name: no '/', '+', '#' or spaces."""
    return _UNSAFE.sub("_", text).strip("_") or "_"


def topic_id(text: str) -> str:
    """A camera's or person's topic level and discovery id: `topic_part` where that keeps every character, else the
    slug and a short stable hash of the real name (distinct names, distinct ids)."""
    slug = topic_part(text)
    if slug == text:
        return slug
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"{'' if slug == '_' else slug}_{digest}"


def iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def snapshot_url(base_url: str, event_id: int) -> str:
    return f"{base_url.rstrip('/')}/v2/events/{event_id}/snapshot.jpg"


def thumbnail_url(base_url: str, cluster_id: int) -> str:
    return f"{base_url.rstrip('/')}/v2/events/unknowns/{cluster_id}/thumbnail.jpg"


def event_json(event: Event, base_url: str = "") -> dict[str, Any]:
    """The one JSON shape of an event; `track_id` on events that follow a track (objects: one event per track;
    faces: the person track the face was on), absent otherwise."""
    return ({"track_id": event.track_id} if event.track_id is not None else {}) | {
        "id": event.id, "camera": event.camera, "label": event.label, "name": event.name,
        "cluster_id": event.cluster_id, "score": round(event.score, 4), "box": [round(v, 1) for v in event.box],
        "count": event.count, "max_count": event.max_count, "frames": event.frames,
        "start_time": event.start, "last_seen": event.last_seen, "end_time": event.end, "source": event.source,
        "snapshot": snapshot_url(base_url, event.id) if event.has_snapshot else None,
    }


def frame_url(base_url: str, event_id: int, number: int) -> str:
    return f"{base_url.rstrip('/')}/v2/events/{event_id}/frames/{number}"


def event_detail(event: Event, frames: list[tuple[float, str, int, float]], base_url: str = "") -> dict[str, Any]:
    """One event with the frames it was seen in (oldest first; the first FRAMES_KEPT of them): when, which file,
    how many and the best score there, and where to fetch the picture."""
    return {**event_json(event, base_url),
            "frame_list": [{"number": i, "time": t, "file": path, "count": count, "score": round(score, 4),
                            "url": frame_url(base_url, event.id, i)}
                           for i, (t, path, count, score) in enumerate(frames, start=1)]}


_NUMBER = {"type": "number"}
# The JSON shape of an event (event_json), for /openapi.json; more keys may come in later versions
EVENT_SCHEMA: dict[str, Any] = {"type": "object", "additionalProperties": True, "required": [
    "id", "camera", "label", "score", "box", "start_time", "last_seen"], "properties": {
    "id": {"type": "integer"}, "camera": {"type": "string"}, "label": {"type": "string"},
    "name": {"type": ["string", "null"]}, "cluster_id": {"type": ["integer", "null"]}, "score": _NUMBER,
    "box": {"type": "array", "items": _NUMBER, "minItems": 4, "maxItems": 4, "description": "xyxy pixels"},
    "count": {"type": "integer"}, "max_count": {"type": "integer"}, "frames": {"type": "integer"},
    "start_time": _NUMBER, "last_seen": _NUMBER, "end_time": {"type": ["number", "null"]},
    "source": {"type": "string"}, "snapshot": {"type": ["string", "null"], "description": "its JPEG's URL"}}}
CHANGE_TYPES = ("new", "update", "end")
CHANGE_SCHEMA: dict[str, Any] = {**EVENT_SCHEMA, "required": ["type", *EVENT_SCHEMA["required"]], "properties": {
    "type": {"type": "string", "enum": list(CHANGE_TYPES)}, **EVENT_SCHEMA["properties"]}}
# One Server-Sent Events message of the stream (sse): `event:` the change type, `id:` the event id, `data:` the
# change as JSON (comments, the keep-alives, carry no message)
SSE_MESSAGE_SCHEMA: dict[str, Any] = {"type": "object", "required": ["event", "id", "data"], "properties": {
    "event": {"type": "string", "enum": list(CHANGE_TYPES)}, "id": {"type": "string", "pattern": "^[0-9]+$"},
    "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": CHANGE_SCHEMA}}}


def change_json(change: EventChange, base_url: str = "") -> dict[str, Any]:
    return {"type": change.type, **event_json(change.event, base_url)}


def sse(change: EventChange, base_url: str = "") -> str:
    """One Server-Sent Events message: `event:` is the change type, `id:` the event id."""
    body = json.dumps(change_json(change, base_url), separators=(",", ":"))
    return f"event: {change.type}\nid: {change.event.id}\ndata: {body}\n\n"


def dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


# --- MQTT topics -------------------------------------------------------------------------------------------------
def availability_topic(prefix: str) -> str:
    return f"{prefix}/available"


def events_topic(prefix: str) -> str:
    return f"{prefix}/events"


def task_topic(prefix: str, camera: str, task: str) -> str:
    """Where a watched camera's latest answer of a `[watch] tasks` task is retained."""
    return f"{prefix}/{topic_part(camera)}/{topic_part(task)}"


def count_topic(prefix: str, camera: str, label: str) -> str:
    return f"{prefix}/{topic_id(camera)}/{topic_part(label)}"


def face_topic(prefix: str, camera: str, name: str) -> str:
    return f"{prefix}/{topic_id(camera)}/{FACE}/{topic_id(name)}"


def match_topic(prefix: str, name: str) -> str:
    return f"{prefix}/matches/{topic_id(name)}"


# --- MQTT payloads -----------------------------------------------------------------------------------------------
def count_payload(count: int) -> bytes:
    return str(int(count)).encode()


def face_payload(event: Event, base_url: str) -> dict[str, Any]:
    """`<prefix>/<camera>/face/<name>` and `.../face/unknown`."""
    body = {"id": event.id, "camera": event.camera, "name": event.name, "confidence": round(event.score, 4),
            "box": [round(v, 1) for v in event.box], "time": iso(event.last_seen or event.start),
            "snapshot": snapshot_url(base_url, event.id) if event.has_snapshot else None}
    if event.cluster_id is not None:  # a stranger
        body["cluster_id"] = event.cluster_id
        body["thumbnail"] = thumbnail_url(base_url, event.cluster_id) if event.cluster_id is not None else None
    return body


def double_take_match(event: Event, base_url: str) -> dict[str, Any]:
    """Double Take's `double-take/matches/<name>` message: confidence in percent, box as top/left/width/height."""
    x1, y1, x2, y2 = event.box
    duration = round(max(0.0, event.last_seen - event.start), 2)
    return {
        "id": str(event.id), "duration": duration, "timestamp": iso(event.last_seen or event.start),
        "attempts": event.frames, "camera": event.camera, "zones": [],
        "match": {"name": event.name, "confidence": round(event.score * 100, 2), "match": True,
                  "box": {"top": round(y1), "left": round(x1), "width": round(x2 - x1), "height": round(y2 - y1)},
                  "type": "latest", "duration": duration, "detector": "vigil", "filename": event.source,
                  "base64": None, "snapshot": snapshot_url(base_url, event.id) if event.has_snapshot else None},
    }


# --- Home Assistant discovery ------------------------------------------------------------------------------------
# Full key names throughout (`device`, `identifiers`, `via_device`…), never the abbreviations. The node id (the
# third level of a discovery topic) is the topic prefix: <discovery>/<component>/<prefix>/<object id>/config.
def hub_id(prefix: str) -> str:
    """The Vigil hub device's identifier: every camera device hangs under it (`via_device`)."""
    return f"{prefix}_server"


def _hub(prefix: str) -> dict[str, Any]:
    return {"identifiers": [hub_id(prefix)], "name": "Vigil", "manufacturer": "Vigil", "model": "Vigil server"}


def camera_device(prefix: str, camera: str) -> dict[str, Any]:
    return {"identifiers": [f"{prefix}_camera_{topic_id(camera)}"], "name": camera, "manufacturer": "Vigil",
            "model": "Camera", "via_device": hub_id(prefix)}


def hub_discovery(prefix: str, discovery: str) -> tuple[str, dict[str, Any]]:
    """(topic, config) of the hub's own entity, a connectivity sensor on the availability topic: it makes the hub
    device that the cameras' devices name as `via_device`."""
    config = {"name": "Vigil online", "unique_id": f"{prefix}_online", "device_class": "connectivity",
              "state_topic": availability_topic(prefix), "payload_on": "online", "payload_off": "offline",
              "device": _hub(prefix)}
    return f"{discovery}/binary_sensor/{prefix}/online/config", config


def camera_discovery(prefix: str, discovery: str, camera: str, label: str) -> list[tuple[str, dict[str, Any]]]:
    """(topic, config) of the occupancy binary sensor and the count sensor of one camera and label, on the
    camera's own device."""
    object_id = f"{topic_id(camera)}_{topic_part(label)}"
    state = count_topic(prefix, camera, label)
    common = {"state_topic": state, "availability_topic": availability_topic(prefix),
              "device": camera_device(prefix, camera)}
    occupancy = {"name": f"{camera} {label} occupancy", "unique_id": f"{prefix}_{object_id}_occupancy",
                 "device_class": "occupancy", "value_template": "{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}",
                 **common}
    count = {"name": f"{camera} {label} count", "unique_id": f"{prefix}_{object_id}_count",
             "state_class": "measurement", "unit_of_measurement": label, "value_template": "{{ value | int(0) }}",
             **common}
    return [(f"{discovery}/binary_sensor/{prefix}/{object_id}_occupancy/config", occupancy),
            (f"{discovery}/sensor/{prefix}/{object_id}_count/config", count)]


def person_discovery(prefix: str, discovery: str, name: str) -> tuple[str, dict[str, Any]]:
    """(topic, config) of a known person's sensor on the hub: its state is the camera that saw them last."""
    object_id = f"person_{topic_id(name)}"
    config = {"name": f"{name} last seen", "unique_id": f"{prefix}_{object_id}", "icon": "mdi:account",
              "state_topic": match_topic(prefix, name), "value_template": "{{ value_json.camera }}",
              "json_attributes_topic": match_topic(prefix, name), "availability_topic": availability_topic(prefix),
              "device": _hub(prefix)}
    return f"{discovery}/sensor/{prefix}/{object_id}/config", config


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str, now: float) -> float:
    """A time filter: epoch seconds, ISO 8601 (UTC unless it says otherwise) or an age such as 30m, 2h, 7d."""
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        return now - float(relative.group(1)) * _UNITS[relative.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time: give epoch seconds, ISO 8601 or an age like 30m, 2h, 7d") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
