"""Issue 22: the watcher's folder camera named in `[cameras.<name>]` gets a live camera's zones, lines and loitering
over its tracks, with the real default detector and real Mosquitto. One woman walks right across a grey wall (the
pasted walker of test_watch_tracks.py), one alarm frame every half second: she stands in zone `left`, loiters there,
crosses the lines at x = 203 and stops in zone `right`; a zone outside the frames is an error naming its key while
the camera's events go on.

Foot points (bottom centre of her box): x ≈ 98 + 30 × step, y ≈ 385; every shape edge lies 12 px or more from them."""

from __future__ import annotations

import json
import logging
import time

import pytest
from fastapi.testclient import TestClient

from tests.events.broker import retained
from tests.events.test_watch_tracks import STEP_S, _alarm, _service, _walkers

STEPS = 10  # her foot at x 98 … 368
EDGE = 203  # between steps 3 and 4
HOLD_S = 5.0
HALL = {"zones": {"left": {"points": [(0, 0), (265, 0), (265, 432), (0, 432)], "loiter_s": 1.2,
                           "labels": ["person"]},
                  "right": {"points": [(323, 0), (768, 0), (768, 432), (323, 432)], "labels": ["person"]}},
        "lines": {"gate": {"points": [(EDGE, 432), (EDGE, 0)]},  # pointing up: her right is the frame's right
                  "back": {"points": [(EDGE, 0), (EDGE, 432)]}}}


@pytest.fixture(scope="module")
def walked(tmp_path_factory, store, broker, subscriber):
    folder = tmp_path_factory.mktemp("watch-scenes")
    service = _service(folder, store, cameras={"hall": HALL}, events={"hold_s": HOLD_S},
                       watch={"faces": False, "dirs": [str(folder)]},  # not started: frames are handed over here
                       mqtt={"host": "127.0.0.1", "port": broker.port, "client_id": "vigil-watch-scenes"})
    service.publisher.start()
    assert service.publisher.connected.wait(10)
    t0 = time.time() - 60
    changes = [c for i in range(STEPS)
               for c in service.process(_alarm(folder, i + 1, _walkers(i, who=(0,)), t0 + i * STEP_S, "hall"))]
    service.t0 = t0  # for a later frame of the same walk
    yield service, changes
    service.publisher.stop()
    service.log.close()


def _payloads(subscriber, topic: str) -> list[bytes]:
    return [m.payload for m in subscriber.on(topic)]


@pytest.mark.integration
def test_zone_occupancy_follows_the_walk_and_drops_to_0_once_the_camera_is_quiet(walked, subscriber):
    service, changes = walked
    assert [c.event.label for c in changes if c.type == "new"] == ["person"]  # events go on as before
    subscriber.wait_for("vigil/hall/left/person", lambda m: m.payload == b"0")
    assert _payloads(subscriber, "vigil/hall/left/person") == [b"1", b"0"]  # in, then out at step 6
    assert _payloads(subscriber, "vigil/hall/right/person") == [b"1"]  # she stopped there
    service.expire(time.time() + HOLD_S + 1)  # no frame for hold_s: nobody counted any more
    subscriber.wait_for("vigil/hall/right/person", lambda m: m.payload == b"0")
    assert subscriber.wait_for("vigil/hall/available").payload == b"online"


@pytest.mark.integration
def test_the_lines_count_her_crossing_in_its_direction(walked, subscriber):
    subscriber.wait_for("vigil/hall/line/gate", lambda m: json.loads(m.payload)["in"] == 1)
    assert json.loads(subscriber.on("vigil/hall/line/gate")[-1].payload) == {"in": 1, "out": 0}
    subscriber.wait_for("vigil/hall/line/back", lambda m: json.loads(m.payload)["out"] == 1)
    assert json.loads(subscriber.on("vigil/hall/line/back")[-1].payload) == {"in": 0, "out": 1}
    assert json.loads(retained(subscriber.port, "vigil/hall/line/gate").payload) == {"in": 1, "out": 0}


@pytest.mark.integration
def test_staying_in_a_zone_longer_than_loiter_s_is_one_loitering_message(walked, subscriber):
    subscriber.wait_for("vigil/hall/loitering")
    loiterers = [json.loads(p) for p in _payloads(subscriber, "vigil/hall/loitering")]
    assert len(loiterers) == 1, "once per track and zone"
    assert loiterers[0]["camera"] == "hall" and loiterers[0]["zone"] == "left"
    assert loiterers[0]["label"] == "person" and loiterers[0]["dwell_s"] >= 1.2


@pytest.mark.integration
def test_home_assistant_entities_of_the_zones_and_lines_are_retained(walked, subscriber):
    for topic in ("homeassistant/sensor/vigil/hall_zone_left_person_count/config",
                  "homeassistant/binary_sensor/vigil/hall_zone_right_person_occupancy/config",
                  "homeassistant/sensor/vigil/hall_line_gate_in/config",
                  "homeassistant/event/vigil/hall_loitering/config"):
        config = json.loads(retained(subscriber.port, topic).payload)
        assert config["device"]["identifiers"] == json.loads(retained(
            subscriber.port, "homeassistant/binary_sensor/vigil/hall_online/config").payload)["device"]["identifiers"]


@pytest.mark.integration
def test_the_page_lists_the_folder_camera_with_its_frame_shapes_and_counts(walked):
    service, _ = walked
    from vigil.serve.app import create_app

    app = create_app(service.executor)
    app.state.events = service
    client = TestClient(app)
    assert client.get("/v2/ui/features").json()["cameras"], "the Cameras tab is shown"
    hall, = client.get("/v2/cameras").json()["cameras"]
    assert hall["kind"] == "watched" and hall["online"] and hall["analysed"] == STEPS
    assert (hall["width"], hall["height"]) == (768, 432) and set(hall["zones"]) == {"left", "right"}
    assert hall["counts"]["lines"]["gate"] == {"in": 1, "out": 0}
    frame = client.get("/" + hall["frame_url"])
    assert frame.status_code == 200 and frame.content[:2] == b"\xff\xd8"


@pytest.mark.integration
def test_shapes_drawn_on_the_page_are_taken_from_the_next_frame(walked, subscriber, tmp_path):
    service, _ = walked
    from vigil.serve.app import create_app

    app = create_app(service.executor)
    app.state.events = service
    kept = {"gate": {"points": HALL["lines"]["gate"]["points"]}}
    answer = TestClient(app).post("/v2/cameras/hall/shapes", json={"lines": kept}).json()
    assert answer["applied"] and "[cameras.hall.lines.gate]" in answer["toml"]
    service.process(_alarm(tmp_path, STEPS + 1, _walkers(STEPS, who=(0,)), service.t0 + STEPS * STEP_S, "hall"))
    state = service.scenes.watched["hall"].state()
    assert state["counts"] == {"zones": {}, "lines": {"gate": {"in": 1, "out": 0}}}  # a kept line keeps its count
    subscriber.wait_for("vigil/hall/line/back", lambda m: m.payload == b"")  # a line gone: its state cleared


def test_a_zone_outside_the_frames_is_an_error_naming_it_and_events_go_on(tmp_path, store, caplog):
    whole = [(0, 0), (768, 0), (768, 432), (0, 432)]
    service = _service(tmp_path, store, cameras={"far": {"zones": {"out": {"points": [(700, 0), (900, 0), (900, 90)]}}},
                                                 "near": {"zones": {"all": {"points": whole}}}})
    try:
        with caplog.at_level(logging.ERROR, logger="vigil.events.watch_scenes"):
            far = service.process(_alarm(tmp_path, 1, _walkers(0, who=(0,)), time.time() - 5, "far"))
        assert [(c.type, c.event.label) for c in far] == [("new", "person")]
        assert "cameras.far.zones.out" in caplog.text and "outside the 768×432 frame" in caplog.text
        assert "cameras.far.zones.out" in service.scenes.watched["far"].state()["error"]
        near = service.process(_alarm(tmp_path, 1, _walkers(0, who=(0,)), time.time() - 5, "near"))
        assert [(c.type, c.event.label) for c in near] == [("new", "person")]
        assert service.scenes.watched["near"].scene.zones["all"].now == {"person": 1}  # another camera unaffected
    finally:
        service.log.close()
