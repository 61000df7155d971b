"""Home Assistant discovery of a live camera on real Mosquitto: one device per camera (under the Vigil hub) with its
connectivity, each zone's occupancy per label (a label first seen in a zone gets its entities then), each line's in
and out counts and loitering as an event entity, every one on a topic the feed really publishes; the value templates,
rendered with Jinja as Home Assistant does, read the feed's payloads right."""

from __future__ import annotations

import json
import tomllib

import jinja2
import pytest

from tests.conftest import fixture_image
from vigil.config.cameras import CameraConfig, LineConfig, ZoneConfig
from vigil.config.events import MqttConfig
from vigil.events.camera_feed import CameraFeed, start_feeds
from vigil.events.publisher import MqttPublisher
from vigil.formats.cameras import toml_snippet

HA = "homeassistant"


@pytest.fixture(scope="module")
def publisher(broker):
    running = MqttPublisher(MqttConfig(host="127.0.0.1", port=broker.port, client_id="vigil-feed-discovery",
                                       discovery_prefix=HA), "http://127.0.0.1:5000").start()
    assert running.connected.wait(10)
    yield running
    running.stop()


def _render(template: str, payload: bytes) -> str:
    text = payload.decode()
    try:
        value_json = json.loads(text)
    except ValueError:
        value_json = None
    env = jinja2.Environment()
    env.filters["to_json"] = json.dumps
    return env.from_string(template).render(value=text, value_json=value_json)


def test_a_live_camera_s_zones_lines_loitering_and_connectivity_are_discovered(tmp_path, pipeline, publisher,
                                                                               subscriber):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        (frames / f"{i}.jpg").write_bytes(fixture_image("vtest_000.jpg").read_bytes())
    gate = CameraConfig(source=str(frames), motion_gate=False,
                        zones={"yard": {"points": [(0, 0), (768, 0), (768, 576), (0, 576)]}},  # every label counted
                        lines={"kerb": {"points": [(0, 500), (768, 500)]}})
    feed, = start_feeds({"gate 1": gate}, pipeline, publisher.send, "vigil", discover=publisher.discover_feed)
    feed.join(60)
    assert feed.error is None and feed.report is not None and feed.report.zones["yard"].max["person"] >= 2

    subscriber.wait_for(f"{HA}/event/vigil/gate_1_4f30b7_loitering/config")
    found = {m.topic: json.loads(m.payload) for m in subscriber.messages
             if m.topic.startswith(f"{HA}/") and "gate_1" in m.topic and m.payload}
    by_name = {c["name"]: c for c in found.values()}
    assert {"gate 1 online", "gate 1 yard person", "gate 1 yard person occupancy", "gate 1 kerb in",
            "gate 1 kerb out", "gate 1 loitering"} <= set(by_name)
    devices = {json.dumps(c["device"], sort_keys=True) for c in by_name.values()}
    assert len(devices) == 1, "one device per camera"
    device = by_name["gate 1 online"]["device"]
    assert device["name"] == "gate 1" and device["via_device"] == "vigil_server"
    assert len({c["unique_id"] for c in by_name.values()}) == len(by_name)

    online = by_name["gate 1 online"]
    assert online["device_class"] == "connectivity"
    subscriber.wait_for(online["state_topic"], lambda m: m.payload == b"offline")  # the feed ended
    states = [m.payload for m in subscriber.on(online["state_topic"])]
    assert states[0] == b"online" and states[-1] == b"offline"
    assert {online["payload_on"].encode(), online["payload_off"].encode()} == set(states)

    zone = by_name["gate 1 yard person"]
    assert zone["availability_mode"] == "all" and online["state_topic"] in [a["topic"] for a in zone["availability"]]
    counts = [_render(zone["value_template"], m.payload) for m in subscriber.on(zone["state_topic"])]
    assert counts and int(counts[-1]) == feed.report.zones["yard"].now["person"] >= 2
    occupied = by_name["gate 1 yard person occupancy"]
    assert occupied["state_topic"] == zone["state_topic"] and occupied["device_class"] == "occupancy"
    assert _render(occupied["value_template"], subscriber.on(zone["state_topic"])[-1].payload) == "ON"

    line = subscriber.on(by_name["gate 1 kerb in"]["state_topic"])[-1].payload
    assert _render(by_name["gate 1 kerb in"]["value_template"], line) == str(feed.report.lines["kerb"]["in"])
    assert _render(by_name["gate 1 kerb out"]["value_template"], line) == str(feed.report.lines["kerb"]["out"])

    loitering = by_name["gate 1 loitering"]
    assert loitering["event_types"] == ["loitering"] and loitering["state_topic"] == "vigil/gate_1_4f30b7/loitering"
    event = _render(loitering["value_template"], json.dumps({"zone": "yard", "track_id": 3}).encode())
    assert json.loads(event)["event_type"] == "loitering"


def test_new_shapes_are_taken_live_and_their_entities_discovered(tmp_path, pipeline, publisher, subscriber):
    """Shapes drawn on the page reach a running feed (CameraFeed.reshape): its next analysed frame counts them,
    Home Assistant learns the new line and zone, and the entities and retained states of the ones gone are cleared."""
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        (frames / f"{i}.jpg").write_bytes(fixture_image("vtest_000.jpg").read_bytes())
    before = CameraConfig(source=str(frames), motion_gate=False,
                          zones={"old": {"points": [(0, 0), (768, 0), (768, 576)], "labels": ["person"]}},
                          lines={"gone": {"points": [(0, 300), (768, 300)]}})
    after = before.model_copy(update={"zones": {"all": ZoneConfig(points=[(0, 0), (768, 0), (768, 576), (0, 576)])},
                                      "lines": {"new": LineConfig(points=[(0, 100), (768, 100)])}})
    taken: list[bool] = []

    def send(topic: str, payload: bytes, retain: bool) -> None:
        if not taken:  # the feed's first message (online), sent from its running thread before any frame
            taken.append(feed.reshape(after))
        publisher.send(topic, payload, retain)

    feed = CameraFeed("drawn", before, pipeline, send, "vigil", discover=publisher.discover_feed)
    feed.start().join(60)
    assert taken == [True] and not feed.reshape(after), "taken while running, refused once ended"
    assert feed.report is not None and set(feed.report.lines) == {"new"} and feed.report.zones["all"].max["person"] >= 2
    assert feed.state()["counts"]["lines"] == {"new": feed.report.lines["new"]}
    subscriber.wait_for("vigil/drawn/line/new")
    subscriber.wait_for(f"{HA}/sensor/vigil/drawn_line_new_in/config")
    subscriber.wait_for(f"{HA}/sensor/vigil/drawn_zone_all_person_count/config")
    for topic in (f"{HA}/sensor/vigil/drawn_zone_old_person_count/config",
                  f"{HA}/sensor/vigil/drawn_line_gone_in/config"):
        subscriber.wait_for(topic, lambda m: m.payload == b"")  # announced when the camera started, then cleared
        assert subscriber.on(topic)[0].payload and subscriber.on(topic)[-1].payload == b""
    for topic in ("vigil/drawn/line/gone", "vigil/drawn/old/person"):  # no retained state left for them
        subscriber.wait_for(topic, lambda m: m.payload == b"")


def test_the_toml_snippet_loads_back_as_the_same_camera_whatever_its_names():
    camera = CameraConfig(source="rtsp://cam/1", width=640, height=480,
                          zones={"front door": ZoneConfig(points=[(0, 0), (10.5, 0), (10, 10)], loiter_s=30,
                                                          labels=["person"])},
                          lines={"gate": LineConfig(points=[(0, 240), (640, 240)])},
                          masks={"rue d'été": [(0, 0), (640, 0), (640, 20)]})
    snippet = toml_snippet("Hof \"Nord\"", camera)
    loaded = tomllib.loads(snippet)["cameras"]['Hof "Nord"']
    again = CameraConfig(source=camera.source, width=640, height=480, **loaded)
    assert again == camera


def test_reshaped_scenes_keep_the_counts_of_shapes_that_keep_their_name():
    from tests.tracks.builders import make_track
    from tests.tracks.test_scene import replay
    from vigil.tracks.scene import Scene

    scene = Scene(CameraConfig(lines={"mid": {"points": [(0, 50), (100, 50)]}}), 200, 100)
    replay(scene, make_track(1, [(50, 20), (50, 80)]))
    assert scene.lines["mid"] == {"in": 1, "out": 0}
    scene.reshape(CameraConfig(lines={"mid": {"points": [(0, 50), (100, 50)]},
                                      "side": {"points": [(120, 0), (120, 100)]}}))
    replay(scene, make_track(2, [(50, 80), (50, 20)]), make_track(3, [(100, 50), (150, 50)]))
    assert scene.lines == {"mid": {"in": 1, "out": 1}, "side": {"in": 0, "out": 1}}
    scene.reshape(CameraConfig())
    assert scene.lines == {} and scene.zones == {}
