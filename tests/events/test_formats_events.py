"""The wire shapes of events: topics, Double Take's match, Home Assistant discovery, time filters."""

from __future__ import annotations

import pytest

from vigil.formats import events as wire
from vigil.results import Event, EventChange


def event(**kwargs) -> Event:
    base = dict(camera="front door", label="face", start=1000.0, score=0.8, box=(10.0, 20.0, 50.0, 80.0),
                name="alice", id=3, last_seen=1002.5, frames=4, has_snapshot=True)
    return Event(**{**base, **kwargs})


@pytest.mark.parametrize(("text", "part"), [("front", "front"), ("front door", "front_door"), ("a/b+#", "a_b"),
                                            ("", "_"), ("3", "3")])
def test_topic_levels_are_safe(text, part):
    assert wire.topic_part(text) == part


def test_topics():
    assert wire.count_topic("vigil", "front door", "person") == "vigil/front_door_e6b4ec/person"  # lossy: hashed
    assert wire.face_topic("vigil", "front", "unknown") == "vigil/front/face/unknown"
    assert wire.match_topic("vigil", "alice") == "vigil/matches/alice"
    assert wire.count_payload(4) == b"4"


def test_double_take_match_shape():
    match = wire.double_take_match(event(), "http://h:5000")
    assert match["camera"] == "front door" and match["duration"] == 2.5 and match["attempts"] == 4
    assert match["match"]["confidence"] == 80.0 and match["match"]["name"] == "alice"
    assert match["match"]["box"] == {"top": 20, "left": 10, "width": 40, "height": 60}


def test_event_json_and_sse():
    change = EventChange("new", event(cluster_id=None))
    body = wire.change_json(change, "http://h:5000/")
    assert body["type"] == "new" and body["snapshot"] == "http://h:5000/v2/events/3/snapshot.jpg"
    assert wire.sse(change).startswith("event: new\nid: 3\ndata: {") and wire.sse(change).endswith("\n\n")
    stranger = wire.face_payload(event(name="unknown", cluster_id=9), "http://h")
    assert stranger["thumbnail"] == "http://h/v2/events/unknowns/9/thumbnail.jpg" and stranger["cluster_id"] == 9
    assert "thumbnail" not in wire.face_payload(event(), "http://h")


def test_discovery_configs():
    (occupancy_topic, occupancy), (count_topic, count) = wire.camera_discovery("vigil", "homeassistant", "front",
                                                                               "person")
    assert occupancy_topic == "homeassistant/binary_sensor/vigil/front_person_occupancy/config"
    assert count_topic == "homeassistant/sensor/vigil/front_person_count/config"
    assert occupancy["state_topic"] == count["state_topic"] == "vigil/front/person"
    assert occupancy["availability_topic"] == "vigil/available" and occupancy["unique_id"] != count["unique_id"]
    topic, person = wire.person_discovery("vigil", "homeassistant", "alice")
    assert topic == "homeassistant/sensor/vigil/person_alice/config"
    assert person["state_topic"] == "vigil/matches/alice" and "camera" in person["value_template"]


@pytest.mark.parametrize(("text", "expected"), [("30m", 10_000 - 1800), ("2h", 10_000 - 7200), ("1d", 10_000 - 86400),
                                                ("1234.5", 1234.5), ("1970-01-01T00:00:10Z", 10.0),
                                                ("1970-01-01T01:00:10+01:00", 10.0), ("1970-01-01 00:00:20", 20.0)])
def test_time_filters(text, expected):
    assert wire.parse_time(text, now=10_000) == pytest.approx(expected)


def test_a_bad_time_names_itself():
    with pytest.raises(ValueError, match="'yesterday' is not a time"):
        wire.parse_time("yesterday", 0)
