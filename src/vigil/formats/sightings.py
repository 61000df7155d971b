"""Sightings on the wire: visits (`vigil faces visits --json`, /v2/faces/visits), face search (`vigil faces search
--json`, /v2/faces/search), the returning-stranger MQTT message and the Home Assistant event entities of faces.

Times are epoch seconds in the JSON documents (as /v2/events gives them) and ISO 8601 in MQTT payloads (as the other
face messages give them). An identity is `"name": …` for a person and `"cluster": …` for a stranger cluster.

Topics, besides formats/events.py's:
  <prefix>/<camera>/face/returning       a stranger cluster starts a new visit (JSON, event_type "returning")
Home Assistant: one `event` entity per camera and kind (unknown, returning), on those two topics.
"""

from __future__ import annotations

from typing import Any

from vigil.formats.events import availability_topic, camera_device, face_topic, iso, snapshot_url, topic_id

RETURNING = "returning"
UNKNOWN = "unknown"


def face_url(base_url: str, sighting_id: int) -> str:
    return f"{base_url.rstrip('/')}/v2/faces/sightings/{sighting_id}/face.jpg"


def identity(who: Any) -> dict[str, Any]:
    return {"name": who.name} if who.cluster is None else {"cluster": who.cluster}


def visits_json(summaries: list[Any], base_url: str = "") -> list[dict[str, Any]]:
    """One entry per person or stranger cluster, most recently seen first, with its visits as a timeline."""
    return [{
        **identity(s.who), "visits": len(s.visits), "first_seen": s.first_seen, "last_seen": s.last_seen,
        "cameras": s.cameras,
        "best_face": {"sighting": s.best.best, "quality": round(s.best.best_quality, 4), "camera": s.best.camera,
                      "url": face_url(base_url, s.best.best)},
        "timeline": [{"camera": v.camera, "start": v.start, "end": v.end, "sightings": v.sightings,
                      "best_face": v.best, "events": v.events} for v in s.visits],
    } for s in summaries]


def search_json(found: list[Any], faces_seen: int, base_url: str = "") -> dict[str, Any]:
    """`{"faces": [{"box", "sightings": [...]}]}`, each face's sightings newest first; a photo without a usable face
    answers an empty list and says so."""
    answer: dict[str, Any] = {"faces": [{
        "box": [round(v, 1) for v in f.face.box],
        "sightings": [{"time": h.sighting.seen, "camera": h.sighting.camera, "event_id": h.sighting.event_id,
                       "track_id": h.sighting.track_id, "similarity": h.similarity, **identity(h.sighting.who),
                       "sighting": h.sighting.id, "face": face_url(base_url, h.sighting.id)} for h in f.hits],
    } for f in found], "faces_found": faces_seen, "faces_searched": len(found)}
    if not found:
        answer["message"] = ("no face found in the image" if not faces_seen else
                             f"{faces_seen} face(s) found, none usable (too small or blurry)")
    return answer


def returning_topic(prefix: str, camera: str) -> str:
    return face_topic(prefix, camera, RETURNING)


def returning_payload(camera: str, cluster: int, visits: int, first_seen: float, seen: float, event_id: int | None,
                      sighting_id: int | None, base_url: str) -> dict[str, Any]:
    return {"event_type": RETURNING, "camera": camera, "cluster": cluster, "cluster_id": cluster, "visits": visits,
            "first_seen": iso(first_seen), "time": iso(seen), "event_id": event_id,
            "snapshot": snapshot_url(base_url, event_id) if event_id else None,
            "face": face_url(base_url, sighting_id) if sighting_id else None}


def face_event_discovery(prefix: str, discovery: str, camera: str) -> list[tuple[str, dict[str, Any]]]:
    """(topic, config) of the Home Assistant event entities of one camera: an unknown face, a returning stranger."""
    out = []
    for kind, title in ((UNKNOWN, "unknown face"), (RETURNING, "returning stranger")):
        object_id = f"{topic_id(camera)}_face_{kind}"
        config = {"name": f"{camera} {title}", "unique_id": f"{prefix}_{object_id}", "event_types": [kind],
                  "state_topic": face_topic(prefix, camera, kind),
                  "value_template": "{{ dict(value_json, event_type='" + kind + "') | to_json }}",
                  "availability_topic": availability_topic(prefix), "device": camera_device(prefix, camera),
                  "icon": "mdi:account-question" if kind == UNKNOWN else "mdi:account-clock"}
        out.append((f"{discovery}/event/{prefix}/{object_id}/config", config))
    return out
