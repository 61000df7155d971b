"""Live cameras (`[cameras.<name>]` with a source) on the wire beyond their MQTT states (formats/tracks.py): the
Home Assistant discovery configs of a camera's zones, lines, loitering and connectivity, the page's `/v2/cameras`
JSON, and a camera's shapes as a ready `[cameras.<name>]` TOML snippet.

Home Assistant, all on the camera's own device (under the Vigil hub):
  binary_sensor  `<camera> online`              connectivity, on `<prefix>/<camera>/available`
  sensor         `<camera> <zone> <label>`      how many now, on `<prefix>/<camera>/<zone>/<label>`
  binary_sensor  `<camera> <zone> <label> occupancy`   on the same topic
  sensor         `<camera> <line> in` / `out`   on `<prefix>/<camera>/line/<line>`
  event          `<camera> loitering`           on `<prefix>/<camera>/loitering`, event type `loitering`
Zone and line entities are available while both Vigil and the camera are online.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from vigil.formats.events import availability_topic, camera_device, topic_id, topic_part
from vigil.formats.tracks import camera_available_topic, line_topic, loitering_topic, zone_topic

LOITERING = "loitering"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
Configs = list[tuple[str, dict[str, Any]]]


def feed_discovery(prefix: str, discovery: str, camera: str, zones: dict[str, list[str]],
                   lines: list[str]) -> Configs:
    """(topic, config) of every Home Assistant entity of a live camera: its connectivity, the occupancy of each
    zone per label (`zones`: zone → labels seen or configured there), each line's in and out counts, loitering."""
    cam, device, both = topic_id(camera), camera_device(prefix, camera), _both(prefix, camera)
    online = {"name": f"{camera} online", "unique_id": f"{prefix}_{cam}_online", "device_class": "connectivity",
              "state_topic": camera_available_topic(prefix, camera), "payload_on": "online",
              "payload_off": "offline", "availability_topic": availability_topic(prefix), "device": device}
    loiter = {"name": f"{camera} loitering", "unique_id": f"{prefix}_{cam}_loitering", "event_types": [LOITERING],
              "state_topic": loitering_topic(prefix, camera),
              "value_template": "{{ dict(value_json, event_type='" + LOITERING + "') | to_json }}",
              "icon": "mdi:account-clock", **both}
    return [(f"{discovery}/binary_sensor/{prefix}/{cam}_online/config", online),
            *shape_discovery(prefix, discovery, camera, zones, lines),
            (f"{discovery}/event/{prefix}/{cam}_loitering/config", loiter)]


def shape_discovery(prefix: str, discovery: str, camera: str, zones: dict[str, list[str]],
                    lines: list[str]) -> Configs:
    """(topic, config) of the entities of these zones (per label) and lines of a camera."""
    cam = topic_id(camera)
    both = _both(prefix, camera)
    out: Configs = []
    for zone in sorted(zones):
        for label in sorted(set(zones[zone])):
            out += _zone_label(prefix, discovery, camera, zone, label, both)
    for line in sorted(lines):
        for way in ("in", "out"):
            object_id = f"{cam}_line_{topic_part(line)}_{way}"
            config = {"name": f"{camera} {line} {way}", "unique_id": f"{prefix}_{object_id}",
                      "state_topic": line_topic(prefix, camera, line), "state_class": "total_increasing",
                      "value_template": "{{ value_json['" + way + "'] }}", "icon": "mdi:transit-connection-variant",
                      **both}
            out.append((f"{discovery}/sensor/{prefix}/{object_id}/config", config))
    return out


def shape_states(prefix: str, camera: str, zones: dict[str, list[str]], lines: list[str]) -> list[str]:
    """The retained state topics of these zones (per label) and lines of a camera."""
    return ([zone_topic(prefix, camera, zone, label) for zone in sorted(zones) for label in sorted(set(zones[zone]))]
            + [line_topic(prefix, camera, line) for line in sorted(lines)])


def _both(prefix: str, camera: str) -> dict[str, Any]:
    """Available while both Vigil and the camera are online, on the camera's device."""
    return {"availability": [{"topic": availability_topic(prefix)}, {"topic": camera_available_topic(prefix, camera)}],
            "availability_mode": "all", "device": camera_device(prefix, camera)}


def _zone_label(prefix: str, discovery: str, camera: str, zone: str, label: str, both: dict[str, Any]) -> Configs:
    object_id = f"{topic_id(camera)}_zone_{topic_part(zone)}_{topic_part(label)}"
    state = zone_topic(prefix, camera, zone, label)
    count = {"name": f"{camera} {zone} {label}", "unique_id": f"{prefix}_{object_id}_count", "state_topic": state,
             "state_class": "measurement", "unit_of_measurement": label, "value_template": "{{ value | int(0) }}",
             **both}
    occupied = {"name": f"{camera} {zone} {label} occupancy", "unique_id": f"{prefix}_{object_id}_occupancy",
                "state_topic": state, "device_class": "occupancy",
                "value_template": "{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}", **both}
    return [(f"{discovery}/sensor/{prefix}/{object_id}_count/config", count),
            (f"{discovery}/binary_sensor/{prefix}/{object_id}_occupancy/config", occupied)]


# --- the page's Cameras view --------------------------------------------------------------------------------------
def shapes(camera: Any) -> dict[str, Any]:
    """A CameraConfig's zones, lines and masks as plain JSON (points as [x, y] lists)."""
    return {"zones": {k: {"points": [list(p) for p in z.points], "loiter_s": z.loiter_s, "labels": list(z.labels)}
                      for k, z in camera.zones.items()},
            "lines": {k: {"points": [list(p) for p in v.points]} for k, v in camera.lines.items()},
            "masks": {k: [list(p) for p in v] for k, v in camera.masks.items()}}


def live_track(track: Any) -> dict[str, Any]:
    frame, time_s, box, score = track.boxes[-1]
    return {"id": track.id, "label": track.label, "box": [round(float(v), 1) for v in box],
            "score": round(float(score), 4), "frame": frame, "time_s": round(time_s, 3)}


def camera_json(name: str, state: dict[str, Any]) -> dict[str, Any]:
    """One live camera for `GET /v2/cameras`; `state` is CameraFeed.state() (its CameraConfig under `camera`, the
    tracks seen on the last analysed frame under `tracks`)."""
    body = {k: v for k, v in state.items() if k not in ("camera", "tracks")}
    url = f"v2/cameras/{quote(name, safe='')}/frame.jpg" if state["last_frame_time"] else None
    return {"name": name, **body, "frame_url": url,
            "tracks": [live_track(t) for t in state["tracks"]], **shapes(state["camera"])}


def _toml_key(text: str) -> str:
    return text if _BARE_KEY.match(text) else json.dumps(text, ensure_ascii=False)


def _points(points: list[Any]) -> str:
    return "[" + ", ".join(f"[{_num(x)}, {_num(y)}]" for x, y in points) + "]"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(round(float(value), 1))


def toml_snippet(name: str, camera: Any) -> str:
    """The camera's shapes as `[cameras.<name>.…]` tables to paste into the config file."""
    base = f"cameras.{_toml_key(name)}"
    parts = []
    for zone, z in camera.zones.items():
        extra = (f"loiter_s = {z.loiter_s}\n" if z.loiter_s is not None else "") + \
                (f"labels = {json.dumps(list(z.labels))}\n" if z.labels else "")
        parts.append(f"[{base}.zones.{_toml_key(zone)}]\npoints = {_points(z.points)}\n{extra}")
    for line, v in camera.lines.items():
        parts.append(f"[{base}.lines.{_toml_key(line)}]\npoints = {_points(v.points)}\n")
    if camera.masks:
        parts.append(f"[{base}.masks]\n" + "".join(f"{_toml_key(k)} = {_points(v)}\n"
                                                   for k, v in camera.masks.items()))
    return "\n".join(parts)
