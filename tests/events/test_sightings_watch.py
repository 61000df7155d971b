"""Issue 25 on the watcher's path, for real: watched frames → the default detector and face models → sightings in the
SQLite gallery with their face events; a stranger coming back announced on a real Mosquitto broker with Home
Assistant event entities; visits, search, face crops and forgetting over a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
from skimage import data as skdata

from tests.conftest import fixture_image, jpeg
from tests.events.app_server import serving
from tests.events.broker import free_port, retained
from vigil.registry.samples import sample_path

pytestmark = pytest.mark.integration
ADMIN, USER = "admin-key-25", "user-key-25"
GAP_S = 300.0


@pytest.fixture(scope="module")
def service(tmp_path_factory, broker, subscriber, store, face_models):
    from vigil.config.settings import VigilConfig
    from vigil.events.service import EventService
    from vigil.execute.local import Inline

    config = VigilConfig(store={"data_dir": tmp_path_factory.mktemp("data")}, faces={"visit_gap_s": GAP_S},
                         server={"port": free_port(), "api_key": USER, "admin_key": ADMIN},
                         mqtt={"host": "127.0.0.1", "port": broker.port, "client_id": "vigil-sightings-test"})
    running = EventService(config, Inline(config, store).setup()).start()
    assert running.publisher.connected.wait(10)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def http(service):
    from vigil.serve.app import create_app

    app = create_app(service.executor)
    app.state.events = service
    with serving(app, service.config.server.port):
        yield httpx.Client(base_url=service.base_url, timeout=60)


@pytest.fixture(scope="module")
def astronaut(service, tmp_path_factory):
    """The astronaut's frame on camera "side", processed as the watcher would: a stranger event and its sighting."""
    from vigil.events.watcher import Frame

    path = tmp_path_factory.mktemp("nvr") / "side" / "00001-capture.jpg"
    path.parent.mkdir()
    path.write_bytes(jpeg(skdata.astronaut()))
    changes = service.process(Frame(str(path), "side", path.stat().st_mtime, time.time()))
    return next(c.event for c in changes if c.event.label == "face")


def test_a_watched_face_becomes_a_sighting_of_its_event(service, astronaut):
    rows = service.sightings.store.rows()
    assert [(r.camera, r.cluster, r.event_id, r.track_id) for r in rows] == [
        ("side", astronaut.cluster_id, astronaut.id, astronaut.track_id)]
    assert astronaut.track_id is not None  # her face is on her person track
    assert rows[0].quality > 0 and service.sightings.store.crop(rows[0].id)[:2] == b"\xff\xd8"


def test_a_stranger_returning_after_the_gap_is_announced_once(service, astronaut, subscriber, broker):
    """Times are given, not waited for: the same stranger on camera side at +10 s (same visit), on camera gate at
    +20 s (walking on: not away), then at +1 h (back: visit 2, one message, with Home Assistant entities)."""
    from vigil.events.sightings import event_finder

    keeper, faces = service.sightings, _faces(service)
    first = service.sightings.store.rows()[0].seen
    for dt, camera in ((10, "side"), (20, "gate")):
        assert keeper.observe(camera, first + dt, faces, event_finder(service.builder, camera)) == []
    [message] = keeper.observe("side", first + 3600, faces, event_finder(service.builder, "side"))
    assert message["cluster"] == astronaut.cluster_id and message["visits"] == 3  # side ×2 and gate: per camera
    got = json.loads(subscriber.wait_for("vigil/side/face/returning").payload)
    assert got["cluster"] == astronaut.cluster_id and got["event_type"] == "returning" and got["first_seen"]
    assert got["face"].endswith("/face.jpg") and got["snapshot"] == message["snapshot"]
    entity = json.loads(retained(broker.port, "homeassistant/event/vigil/side_face_returning/config").payload)
    assert entity["event_types"] == ["returning"] and entity["state_topic"] == "vigil/side/face/returning"
    unknown = json.loads(retained(broker.port, "homeassistant/event/vigil/gate_face_unknown/config").payload)
    assert unknown["state_topic"] == "vigil/gate/face/unknown"
    assert len(subscriber.on("vigil/side/face/returning")) == 1 and not subscriber.on("vigil/gate/face/returning")


def _faces(service):
    from vigil.execute.executor import FACES

    frame = service.executor.decode(jpeg(skdata.astronaut()), full_size=True)
    return service.executor.call(FACES, "recognize", frame, "again", 10.0, deadline=service.executor.deadline())


def test_visits_search_and_faces_need_the_admin_key(http, astronaut):
    for key in (None, USER):
        headers = {"X-API-Key": key} if key else {}
        assert http.get("/v2/faces/visits", headers=headers).status_code == 401
    admin = {"X-API-Key": ADMIN}
    [entry] = http.get("/v2/faces/visits", headers=admin).json()
    assert entry["cluster"] == astronaut.cluster_id and entry["visits"] == 3 and entry["cameras"] == ["gate", "side"]
    assert [v["camera"] for v in entry["timeline"]] == ["side", "gate", "side"]
    crop = http.get(entry["best_face"]["url"].removeprefix(str(http.base_url).rstrip("/")), headers=admin)
    assert crop.status_code == 200 and crop.content[:2] == b"\xff\xd8"
    assert http.get("/v2/faces/visits", params={"since": "tomorrow"}, headers=admin).status_code == 400

    flipped = jpeg(np.ascontiguousarray(skdata.astronaut()[:, ::-1]))  # another picture of her
    answer = http.post("/v2/faces/search", files={"image": ("q.jpg", flipped)}, headers=admin).json()
    [face] = answer["faces"]
    times = [s["time"] for s in face["sightings"]]
    assert len(times) == 4 and times == sorted(times, reverse=True)
    assert {s["cluster"] for s in face["sightings"]} == {astronaut.cluster_id}
    assert face["sightings"][0]["similarity"] > 0.5
    horses = fixture_image("horses.jpg").read_bytes()
    empty = http.post("/v2/faces/search", files={"image": ("h.jpg", horses)}, headers=admin).json()
    assert empty["faces"] == [] and "no face" in empty["message"]
    obama = sample_path("obama.jpg").read_bytes()  # someone never seen: found nowhere
    assert http.post("/v2/faces/search", files={"image": ("o.jpg", obama)}, headers=admin).json()["faces"][0][
        "sightings"] == []
    assert http.post("/v2/faces/search", files={"image": ("o.jpg", obama)}, headers={"X-API-Key": USER}
                     ).status_code == 401


def test_the_strangers_tab_shows_visits_on_a_timeline_and_finds_a_dropped_face(http, service, astronaut):
    """The page in a real Chromium: the stranger's three visits as marks on its lane, and a dropped photo of her
    answered with her four sightings."""
    from tests.serve.browser import Watch, launch, playwright_or_fail
    from tests.serve.test_web_page import TIMEOUT_MS, drop, sign_in

    with playwright_or_fail()() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        watch = Watch()
        watch.attach(page)
        sign_in(page, SimpleNamespace(url=service.base_url), ADMIN)
        page.goto(service.base_url + "/#strangers")
        marks = page.locator(f".visits-row[data-who='Stranger #{astronaut.cluster_id}'] .lane .visit")
        marks.first.wait_for()
        assert marks.count() == 3
        drop(page, "#search-drop", "her.jpg", jpeg(np.ascontiguousarray(skdata.astronaut()[:, ::-1])))
        found = page.locator("#search-results .found li")
        found.first.wait_for()
        assert found.count() == 4 and "side" in found.first.inner_text()
        browser.close()
    assert not watch.errors, watch.errors


def test_forgetting_a_stranger_removes_it_everywhere(http, service, astronaut):
    admin = {"X-API-Key": ADMIN}
    assert http.delete(f"/v2/faces/identities/cluster:{astronaut.cluster_id}", headers={"X-API-Key": USER}
                       ).status_code == 401
    gone = http.delete(f"/v2/faces/identities/cluster:{astronaut.cluster_id}", headers=admin).json()
    assert gone == {"cluster": astronaut.cluster_id, "sightings": 4, "faces": 1, "events": 1}
    assert astronaut.id not in {e.id for e in service.log.query()}
    assert http.get("/v2/faces/visits", headers=admin).json() == []
    assert astronaut.cluster_id not in {c.id for c in service.executor.recognizer.gallery.unknowns()}
    again = http.delete(f"/v2/faces/identities/cluster:{astronaut.cluster_id}", headers=admin)
    assert again.status_code == 404
