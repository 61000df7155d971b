"""Identities that must not collide on MQTT and in Home Assistant, and entities only for cameras that made an event
(issue 20, items 6 and 14): a real watcher, the real default detector, a real Mosquitto and a real subscriber."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import fixture_image, jpeg
from tests.events.broker import retained
from vigil.formats import events as wire
from vigil.results import Event, EventChange

pytestmark = pytest.mark.integration
HA = "homeassistant"


@pytest.fixture(scope="module")
def service(tmp_path_factory, broker, subscriber, store):
    from vigil.config.settings import VigilConfig
    from vigil.events.service import EventService
    from vigil.execute.local import Inline

    watched = tmp_path_factory.mktemp("nvr")
    config = VigilConfig(watch={"dirs": [watched], "faces": False}, events={"hold_s": 2.0},
                         store={"data_dir": tmp_path_factory.mktemp("data")},
                         mqtt={"host": "127.0.0.1", "port": broker.port, "client_id": "vigil-hardening2"})
    running = EventService(config, Inline(config, store).setup()).start()
    assert running.publisher.connected.wait(10)
    yield running
    running.stop()


def _drop(service, camera: str, data: bytes, name: str = "00001-capture.jpg") -> Path:
    target = service.config.watch.dirs[0] / camera / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    deadline = time.monotonic() + 30
    while not service.log.processed(str(target), target.stat().st_mtime):
        assert time.monotonic() < deadline, f"{target} was not processed"
        time.sleep(0.05)
    return target


def test_a_camera_without_events_gets_no_entities(service, subscriber):
    _drop(service, "quiet", jpeg(np.full((240, 320, 3), 128, np.uint8)))  # nothing in it
    time.sleep(0.5)
    assert "quiet" not in service.log.cameras()
    assert not [m.topic for m in subscriber.messages if "quiet" in m.topic]
    _drop(service, "quiet", fixture_image("person.jpg").read_bytes(), "00002-capture.jpg")  # now an event
    subscriber.wait_for(f"{HA}/binary_sensor/vigil/quiet_person_occupancy/config")
    assert service.alive


def test_cameras_whose_slugs_clash_keep_their_own_topics_and_entities(service, subscriber, broker):
    person = fixture_image("person.jpg").read_bytes()
    for camera in ("gate+#1", "gate 1"):
        _drop(service, camera, person)
    plus, space = wire.topic_id("gate+#1"), wire.topic_id("gate 1")
    assert plus != space and plus.startswith("gate_1_") and space.startswith("gate_1_")
    for camera, part in (("gate+#1", plus), ("gate 1", space)):
        assert subscriber.wait_for(f"vigil/{part}/person").payload != b"0"
        config = json.loads(retained(broker.port, f"{HA}/binary_sensor/vigil/{part}_person_occupancy/config").payload)
        assert config["state_topic"] == f"vigil/{part}/person" and config["name"] == f"{camera} person occupancy"
        assert config["unique_id"] == f"vigil_{part}_person_occupancy"
    assert not subscriber.on("vigil/gate_1/person")
    _drop(service, "front", person)  # a name that is its own slug keeps its topic
    assert subscriber.wait_for("vigil/front/person").payload != b"0"


def test_people_with_non_latin_names_get_their_own_topics_and_sensors(service, subscriber, broker):
    now = time.time()
    for name in ("李娜", "王伟"):
        event = Event(camera="cam2", label=wire.FACE, start=now, score=0.9, box=(1.0, 2.0, 3.0, 4.0), name=name,
                      id=1, last_seen=now)
        service.publisher.publish([EventChange("new", event)])
        service.publisher.discover("cam2", {"person"}, {name})
    topics = {name: wire.topic_id(name) for name in ("李娜", "王伟")}
    assert len(set(topics.values())) == 2 and "_" not in {p.strip("_") for p in topics.values()}
    for name, part in topics.items():
        assert json.loads(subscriber.wait_for(f"vigil/cam2/face/{part}").payload)["name"] == name
        assert json.loads(subscriber.wait_for(f"vigil/matches/{part}").payload)["match"]["name"] == name
        sensor = json.loads(retained(broker.port, f"{HA}/sensor/vigil/person_{part}/config").payload)
        assert sensor["name"] == f"{name} last seen" and sensor["unique_id"] == f"vigil_person_{part}"
        assert sensor["state_topic"] == f"vigil/matches/{part}"
    assert not subscriber.on("vigil/cam2/face/_")
    assert retained(broker.port, "vigil/available").payload == b"online" and service.alive
