"""The whole way, for real: frames dropped into a watched folder → the default detector and face models → events in
the SQLite log → a real Mosquitto broker (started here) → a real paho subscriber; the /v2/events routes and the SSE
stream over a real HTTP server; the broker stopped and restarted mid-run."""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from tests.conftest import fixture_image, jpeg
from tests.events.app_server import serving
from tests.events.broker import free_port, retained

pytestmark = pytest.mark.integration
HOLD_S = 2.0


def _json(message) -> dict:
    return json.loads(message.payload)


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    return tmp_path_factory.mktemp("nvr")


@pytest.fixture(scope="module")
def service(tmp_path_factory, watched, broker, subscriber, store, face_models):
    from vigil.config.settings import VigilConfig
    from vigil.events.service import EventService
    from vigil.execute.local import Inline
    from vigil.faces.enroll import enroll

    data = tmp_path_factory.mktemp("data")
    port = free_port()
    config = VigilConfig(watch={"dirs": [watched]}, store={"data_dir": data}, events={"hold_s": HOLD_S},
                         server={"port": port},
                         mqtt={"host": "127.0.0.1", "port": broker.port, "client_id": "vigil-under-test"})
    pipeline = Inline(config, store).setup()
    messi = np.asarray(Image.open(fixture_image("messi5.jpg")).convert("RGB"))
    report = enroll(pipeline.recognizer, "messi", [jpeg(np.ascontiguousarray(messi[:, ::-1]))])  # another picture
    assert report.samples == 1
    running = EventService(config, pipeline).start()
    assert running.publisher.connected.wait(10)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def http(service):
    """The real HTTP app (vigil.http.deepstack.create_app) with the running event service, on 127.0.0.1."""
    from vigil.execute.local import Engine
    from vigil.serve.app import create_app

    app = create_app(Engine(service.config, service.executor.store))
    app.state.events = service
    with serving(app, service.config.server.port):
        yield httpx.Client(base_url=service.base_url, timeout=30)


def _drop(source: Path | bytes, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source if isinstance(source, bytes) else source.read_bytes())  # open, write, close


def test_a_frame_gives_the_event_the_count_the_discovery_and_the_match(service, subscriber, broker, watched):
    _drop(fixture_image("messi5.jpg"), watched / "front" / "00001-capture.jpg")
    new = subscriber.wait_for("vigil/events", lambda m: _json(m)["type"] == "new" and _json(m)["label"] == "person")
    event = _json(new)
    assert event["camera"] == "front" and event["count"] >= 1 and len(event["box"]) == 4
    assert event["snapshot"] == f"{service.base_url}/v2/events/{event['id']}/snapshot.jpg"
    count = subscriber.wait_for("vigil/front/person", lambda m: m.payload != b"0")
    assert int(count.payload) == event["count"]

    occupancy = retained(broker.port, "homeassistant/binary_sensor/vigil/front_person_occupancy/config")
    config = json.loads(occupancy.payload)
    assert occupancy.retain and config["device_class"] == "occupancy" and config["state_topic"] == "vigil/front/person"
    counter = json.loads(retained(broker.port, "homeassistant/sensor/vigil/front_person_count/config").payload)
    assert counter["state_topic"] == "vigil/front/person"
    person = json.loads(retained(broker.port, "homeassistant/sensor/vigil/person_messi/config").payload)
    assert person["state_topic"] == "vigil/matches/messi"
    assert retained(broker.port, "vigil/available").payload == b"online"

    match = _json(subscriber.wait_for("vigil/matches/messi"))
    assert match["camera"] == "front" and match["match"]["name"] == "messi" and match["match"]["match"] is True
    assert 0 < match["match"]["confidence"] <= 100 and set(match["match"]["box"]) == {"top", "left", "width", "height"}
    assert _json(subscriber.wait_for("vigil/front/face/messi"))["name"] == "messi"

    # the hold time runs out: the event ends and the retained count goes back to 0
    subscriber.wait_for("vigil/events", lambda m: _json(m)["type"] == "end" and _json(m)["id"] == event["id"])
    subscriber.wait_for("vigil/front/person", lambda m: m.payload == b"0")
    assert retained(broker.port, "vigil/front/person").payload == b"0"
    stored = service.log.get(event["id"])
    assert stored.end is not None and stored.has_snapshot


@pytest.fixture
def long_hold(service):
    """A hold no loaded machine outlasts between two frames, so "once per hold" cannot depend on timing."""
    service.builder.hold_s = service.tracks.hold_s = 120.0
    yield
    service.builder.hold_s = service.tracks.hold_s = HOLD_S


def test_a_stranger_is_announced_once_per_hold_and_served_over_http(service, subscriber, watched, http, long_hold):
    lines: list[str] = []
    listening = threading.Event()

    def listen() -> None:
        with http.stream("GET", "/v2/events/stream") as stream:
            for line in stream.iter_lines():
                listening.set()
                lines.append(line)
                if line.startswith("data:") and '"name":"unknown"' in line:
                    return

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    assert listening.wait(10)
    astronaut = jpeg(skdata.astronaut())
    _drop(astronaut, watched / "side" / "00001-capture.jpg")
    _drop(astronaut, watched / "side" / "00002-capture.jpg")
    unknown = _json(subscriber.wait_for("vigil/side/face/unknown"))
    assert unknown["camera"] == "side" and unknown["cluster_id"] >= 1
    assert unknown["thumbnail"] == f"{service.base_url}/v2/events/unknowns/{unknown['cluster_id']}/thumbnail.jpg"
    deadline = time.monotonic() + 30
    while len(service.log.query(_query(camera="side", label="person"))) < 1 or not _both_processed(service, watched):
        assert time.monotonic() < deadline, "the two frames were not processed"
        time.sleep(0.1)
    assert len(subscriber.on("vigil/side/face/unknown")) == 1  # two frames, one stranger, one message

    thumbnail = http.get(unknown["thumbnail"].removeprefix(service.base_url))
    assert thumbnail.status_code == 200 and thumbnail.content[:2] == b"\xff\xd8"
    listed = http.get("/v2/events", params={"camera": "side", "label": "face"}).json()
    assert [(e["name"], e["cluster_id"]) for e in listed] == [("unknown", unknown["cluster_id"])]
    snapshot = http.get(listed[0]["snapshot"].removeprefix(service.base_url))
    assert snapshot.status_code == 200 and snapshot.headers["content-type"] == "image/jpeg"
    assert http.get("/v2/events/999999/snapshot.jpg").status_code == 404
    assert http.get("/v2/events", params={"since": "yesterday"}).status_code == 400
    reader.join(10)
    data = [json.loads(x.removeprefix("data:")) for x in lines if x.startswith("data:")]
    assert any(d["type"] == "new" and d["camera"] == "side" and d["name"] == "unknown" for d in data)


def _query(**kwargs):
    from vigil.events.log import EventQuery

    return EventQuery(**kwargs)


def _both_processed(service, watched: Path) -> bool:
    return all(service.log.processed(str(p), p.stat().st_mtime) for p in (watched / "side").iterdir())


def test_a_half_written_frame_is_not_read_early(service, subscriber, watched):
    data = fixture_image("dog.jpg").read_bytes()
    target = watched / "porch" / "00001-capture.jpg"
    target.parent.mkdir()
    with open(target, "wb") as f:  # a slow writer, pausing half way, in a brand-new folder
        f.write(data[: len(data) // 2])
        f.flush()
        time.sleep(1.5)
        assert not service.log.processed(str(target), target.stat().st_mtime)
        assert not service.log.query(_query(camera="porch")) and not subscriber.on("vigil/porch/dog")
        f.write(data[len(data) // 2:])
    assert subscriber.wait_for("vigil/porch/dog").payload == b"1"


def test_events_made_while_the_broker_is_down_arrive_after_it_returns(service, subscriber, broker, watched):
    broker.stop(signal.SIGKILL)  # killed: no goodbye to its clients
    deadline = time.monotonic() + 10
    while service.publisher.connected.is_set():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    _drop(fixture_image("dog.jpg"), watched / "back" / "00001-capture.jpg")
    deadline = time.monotonic() + 30
    while not service.log.query(_query(camera="back")):  # Vigil keeps working: the event is in the log
        assert time.monotonic() < deadline, "the frame was not processed while the broker was down"
        time.sleep(0.1)
    broker.start()
    new = subscriber.wait_for("vigil/events", lambda m: _json(m)["camera"] == "back" and _json(m)["type"] == "new",
                              timeout=90)
    assert _json(new)["label"] in {e.label for e in service.log.query(_query(camera="back"))}
    assert service.publisher.connected.wait(30)

    # the camera's folder goes away: Home Assistant's entities for it are removed (empty retained configs)
    shutil.rmtree(watched / "back")
    subscriber.wait_for("homeassistant/binary_sensor/vigil/back_person_occupancy/config", lambda m: m.payload == b"")
    assert "back" not in service.log.cameras()


# --- Home Assistant: default labels, a device per camera under the hub, no orphans (issue 21) ---------------------
ABBREVIATIONS = {"dev", "ids", "stat_t", "avty_t", "uniq_id", "dev_cla", "val_tpl", "json_attr_t", "unit_of_meas",
                 "stat_cla", "mf", "mdl", "via_dev", "pl_on", "pl_off"}


def _config(broker, topic: str) -> dict:
    config = json.loads(retained(broker.port, topic).payload)
    keys = set(config) | set(config.get("device", {}))
    assert not keys & ABBREVIATIONS, f"abbreviated discovery keys in {topic}: {keys & ABBREVIATIONS}"
    return config


def _nothing_retained(port: int, topic: str) -> bool:
    try:
        retained(port, topic, timeout=1.0)
    except AssertionError:
        return True
    return False


def test_each_camera_is_its_own_device_under_the_hub_and_only_default_labels_make_entities(service, subscriber,
                                                                                            broker, watched):
    giraffe = watched / "zoo" / "00001-capture.jpg"
    _drop(fixture_image("giraffe.jpg"), giraffe)  # a giraffe: not a default label
    _drop(fixture_image("dog.jpg"), watched / "yard" / "00001-capture.jpg")
    subscriber.wait_for("vigil/yard/dog", lambda m: m.payload == b"1")
    deadline = time.monotonic() + 30
    while not service.log.processed(str(giraffe), giraffe.stat().st_mtime):
        assert time.monotonic() < deadline, "the giraffe was not processed"
        time.sleep(0.1)
    assert not subscriber.on("vigil/zoo/giraffe") and not service.log.query(_query(camera="zoo"))
    hub = _config(broker, "homeassistant/binary_sensor/vigil/online/config")
    assert hub["state_topic"] == "vigil/available" and hub["device"]["identifiers"] == ["vigil_server"]
    yard = _config(broker, "homeassistant/binary_sensor/vigil/yard_dog_occupancy/config")
    assert yard["device"]["identifiers"] == ["vigil_camera_yard"] and yard["device"]["name"] == "yard"
    assert yard["device"]["via_device"] == "vigil_server"
    count = _config(broker, "homeassistant/sensor/vigil/yard_dog_count/config")
    assert count["device"] == yard["device"]
    person = _config(broker, "homeassistant/sensor/vigil/person_messi/config") if service.log.people() else None
    assert person is None or person["device"]["identifiers"] == ["vigil_server"]


def test_a_deleted_cameras_open_events_end_without_retaining_its_state_again(service, subscriber, broker, watched,
                                                                            long_hold):
    _drop(fixture_image("person.jpg"), watched / "shed" / "00001-capture.jpg")
    subscriber.wait_for("vigil/shed/person", lambda m: m.payload not in (b"", b"0"))
    opened = [e for e in service.log.query(_query(camera="shed")) if e.end is None]
    assert opened  # the hold (120 s) keeps them open
    shutil.rmtree(watched / "shed")
    for event in opened:  # ended at once, said on vigil/events only
        subscriber.wait_for("vigil/events", lambda m, i=event.id: _json(m)["id"] == i and _json(m)["type"] == "end")
    for topic in ("homeassistant/binary_sensor/vigil/shed_person_occupancy/config",
                  "homeassistant/sensor/vigil/shed_person_count/config", "vigil/shed/person"):
        subscriber.wait_for(topic, lambda m: m.payload == b"")
        assert _nothing_retained(broker.port, topic), topic
    assert subscriber.on("vigil/shed/person")[-1].payload == b""  # no "0" after the clearing
    assert all(service.log.get(e.id).end is not None for e in opened)


def test_renaming_or_deleting_a_person_clears_their_sensor(service, subscriber, broker, watched):
    _drop(fixture_image("messi5.jpg"), watched / "gate" / "00001-capture.jpg")
    subscriber.wait_for("vigil/gate/face/messi")
    assert _config(broker, "homeassistant/sensor/vigil/person_messi/config")["name"] == "messi last seen"
    gallery = service.executor.recognizer.gallery
    gallery.rename("messi", "leo")
    try:
        subscriber.wait_for("homeassistant/sensor/vigil/person_messi/config", lambda m: m.payload == b"")
        subscriber.wait_for("vigil/matches/messi", lambda m: m.payload == b"")
        assert _nothing_retained(broker.port, "homeassistant/sensor/vigil/person_messi/config")
        _drop(fixture_image("messi5.jpg"), watched / "gate" / "00002-capture.jpg")
        subscriber.wait_for("homeassistant/sensor/vigil/person_leo/config", lambda m: m.payload != b"")
    finally:
        gallery.rename("leo", "messi")
    # renamed back: leo's sensor goes the same way (a deleted person is the same case: a name gone from the gallery)
    subscriber.wait_for("homeassistant/sensor/vigil/person_leo/config", lambda m: m.payload == b"")
