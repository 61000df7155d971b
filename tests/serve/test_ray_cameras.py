"""`vigil serve --ray` with live cameras: each `[cameras.<name>]` with a source runs in a Ray actor of its own, its
feed's models in the application's deployments; its events reach the event log of the `vigil serve --ray` process
(with their track ids, as in-process) and its zone, line and availability states a real Mosquitto. A camera whose
source does not exist stops alone; one whose actor dies is reported offline, restarted, and starts over. The
ingress's Cameras view asks the actors; its /ready reads the faces replica's word on the gallery (issue 20).

Fits the session's 2 CPUs: one replica per preloaded task (0.2 CPUs each), 0.1 CPUs per camera actor."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.events.conftest import broker, subscriber  # noqa: F401 - the real Mosquitto of the events tests
from tests.serve.server import free_port
from tests.tracks.mot import CLIP
from vigil.config.settings import VigilConfig

pytestmark = pytest.mark.integration
DOOR = {"points": [(300, 150), (500, 150), (500, 350), (300, 350)], "labels": ["person"]}
MID = {"points": [(384, 0), (384, 576)]}
PORCH = {"source": str(CLIP), "fps": 5, "faces": False, "zones": {"door": DOOR}, "lines": {"mid": MID}}
YARD = {"source": str(CLIP), "fps": 5, "faces": False, "motion_gate": False, "lines": {"mid": MID}}
GARAGE = {"source": "/nonexistent/garage.mp4"}
WORKING = ("porch", "yard")


def offline(message) -> bool:
    return message.payload == b"offline"


@pytest.fixture(scope="module")
def config(tmp_path_factory, broker):  # noqa: F811
    return VigilConfig(
        server={"host": "127.0.0.1", "port": free_port(), "request_timeout_s": 60},
        store={"data_dir": str(tmp_path_factory.mktemp("ray-cameras"))},
        mqtt={"host": "127.0.0.1", "port": broker.port, "client_id": "vigil-ray-cameras"},
        cameras={"porch": PORCH, "yard": YARD, "garage": GARAGE},
        ray={"min_replicas": 1, "max_replicas": 1, "replica_cpus": 0.2, "camera_cpus": 0.1})


@pytest.fixture(scope="module")
def events(config, store, face_models, local_ray, subscriber):  # noqa: F811
    """`vigil serve --ray`'s start: the application, and this process's event service with its camera actors."""
    from vigil.serve import on_ray

    service = on_ray.start(config, "auto")
    yield service
    on_ray.stop(service)
    from ray import serve

    serve.shutdown()  # the next module's Serve binds its own port


@pytest.fixture(scope="module")
def ended(events, subscriber):  # noqa: F811
    """Every camera's clip played to its end (its `offline` delivered after its last events)."""
    for name in (*WORKING, "garage"):
        subscriber.wait_for(f"vigil/{name}/available", offline, timeout=240)
    return {feed.name: feed.state() for feed in events.feeds}


def test_each_camera_runs_in_an_actor_of_its_own(events):
    import ray

    where = {feed.name: feed.where() for feed in events.feeds}
    assert set(where) == {*WORKING, "garage"}
    assert len({w["actor_id"] for w in where.values()}) == 3
    assert len({w["pid"] for w in where.values()}) == 3 and os.getpid() not in {w["pid"] for w in where.values()}
    for name, place in where.items():
        assert ray.get_actor(f"vigil-camera-{name}", namespace="vigil")._actor_id.hex() == place["actor_id"]


def test_events_reach_the_log_with_track_ids_and_states_reach_mqtt(events, ended, subscriber):  # noqa: F811
    stored = events.log.query()
    for name in WORKING:
        own = [e for e in stored if e.camera == name]
        assert own and all(e.track_id is not None and e.end is not None and e.id for e in own), name
        assert len({e.track_id for e in own}) == len(own), "one event per track"
        assert ended[name]["error"] is None and ended[name]["analysed"] >= 10
        online = subscriber.wait_for(f"vigil/{name}/available", lambda m: m.payload == b"online")
        assert subscriber.messages.index(online) < subscriber.messages.index(
            subscriber.wait_for(f"vigil/{name}/available", offline))
        line = subscriber.on(f"vigil/{name}/line/mid")
        assert line and json.loads(line[-1].payload) == ended[name]["counts"]["lines"]["mid"]
    occupancy = [int(m.payload) for m in subscriber.on("vigil/porch/door/person")]
    assert max(occupancy) == ended["porch"]["counts"]["zones"]["door"]["max"]["person"] >= 1
    published = [json.loads(m.payload) for m in subscriber.on("vigil/events")]
    assert {(p["camera"], p["track_id"]) for p in published} == {(e.camera, e.track_id) for e in stored}


def test_a_camera_whose_source_fails_stops_alone(events, ended):
    assert "garage.mp4: no such file" in ended["garage"]["error"]
    assert "garage.mp4" in events.feed_runner.errors["garage"]
    assert {e.camera for e in events.log.query()} == set(WORKING)


def test_the_events_are_those_of_the_same_camera_in_process(events, ended, pipeline):
    """The porch clip tracked in a thread of this process: the same tracks, counts and events."""
    from vigil.events.camera_feed import start_feeds

    changes = []
    feed, = start_feeds({"porch": VigilConfig(cameras={"porch": PORCH}).cameras["porch"]}, pipeline,
                        lambda *_: None, "vigil", emit=changes.extend)
    feed.join(120)
    local = feed.state()
    assert local["counts"] == ended["porch"]["counts"] and local["analysed"] == ended["porch"]["analysed"]
    on_ray = {(e.track_id, e.label) for e in events.log.query() if e.camera == "porch"}
    assert on_ray == {(c.event.track_id, c.event.label) for c in changes if c.type == "new"}


def test_ready_is_503_while_the_faces_replicas_find_the_gallery_gone(events, config):
    """/ready on Ray reads the faces replica's gallery (issue 20): its listener's finding, set here as a PostgreSQL
    gallery's sets it when its database goes (tests/serve/test_postgres_gone.py drops a real one in-process)."""
    import requests
    from ray import serve

    faces = serve.get_deployment_handle("faces", "vigil")
    url = f"http://127.0.0.1:{config.server.port}/ready"
    assert requests.get(url, timeout=30).status_code == 200
    faces.on_runner.remote(lambda r: setattr(r.recognizer.gallery, "unavailable", "gone")).result(timeout_s=30)
    try:
        reply = requests.get(url, timeout=30)
        assert reply.status_code == 503 and "database" in reply.text
    finally:
        faces.on_runner.remote(lambda r: setattr(r.recognizer.gallery, "unavailable", None)).result(timeout_s=30)
    assert requests.get(url, timeout=30).status_code == 200


def test_the_ingress_cameras_view_asks_the_camera_actors(events, ended, config):
    import requests

    url = f"http://127.0.0.1:{config.server.port}/v2/cameras"
    listed = {c["name"]: c for c in requests.get(url, timeout=30).json()["cameras"]}
    assert set(listed) == {*WORKING, "garage"}
    assert listed["porch"]["counts"] == ended["porch"]["counts"] and "no such file" in listed["garage"]["error"]
    frame = requests.get(f"{url}/porch/frame.jpg", timeout=30)
    assert frame.status_code == 200 and frame.content[:2] == b"\xff\xd8"
    assert requests.get(f"{url}/garage/frame.jpg", timeout=30).status_code == 404
    drawn = {"zones": {"path": {"points": [[0, 0], [200, 0], [200, 200]]}}}
    shaped = requests.post(f"{url}/porch/shapes", json=drawn, timeout=30)
    assert shaped.status_code == 200 and "[cameras.porch.zones.path]" in shaped.json()["toml"]
    assert shaped.json()["applied"] is False  # the clip has ended: no running feed to take them


def test_a_camera_whose_actor_dies_is_reported_restarted_and_starts_over(events, ended, subscriber):  # noqa: F811
    import ray

    before = [e for e in events.log.query() if e.camera == "yard"]
    seen = len(subscriber.messages)
    ray.kill(ray.get_actor("vigil-camera-yard", namespace="vigil"), no_restart=False)
    back = index_of(subscriber, seen, "vigil/yard/available", b"online", timeout=120)
    reported = [m.payload for m in subscriber.messages[seen:back] if m.topic == "vigil/yard/available"]
    assert reported == [b"offline"], "the driver says offline before the new actor's online"
    assert events.feed_runner.errors.get("yard") is None  # reported while it was down, cleared once it answered
    index_of(subscriber, back, "vigil/yard/available", b"offline", timeout=180)  # the clip played again
    again = [e for e in events.log.query() if e.camera == "yard"]
    assert len(again) > len(before) and all(e.end is not None and e.track_id is not None for e in again)


def index_of(subscriber, start: int, topic: str, payload: bytes, timeout: float) -> int:  # noqa: F811
    """Where the first message on `topic` with `payload` at or after index `start` is, once it arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = next((i for i, m in enumerate(subscriber.messages[start:], start)
                      if m.topic == topic and m.payload == payload), None)
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {payload!r} on {topic} after message {start} within {timeout} s")


def test_an_outbox_nobody_takes_keeps_the_newest_outputs_and_counts_the_rest():
    from vigil.events.camera_actors import _Outbox

    outbox = _Outbox(limit=3)
    outputs = outbox.outputs()
    for i in range(5):
        outputs.send("vigil/porch/available", str(i).encode(), True)
    assert outbox.lost == 2
    assert [args[1] for _, args in outbox.take()] == [b"2", b"3", b"4"]
    assert outbox.take() == []


def test_a_camera_actor_no_node_can_place_is_reported(local_ray, tmp_path, monkeypatch):
    """More CPUs than the cluster has: Ray never starts the actor; after PLACED_WITHIN_S the camera carries an error
    that says why, instead of staying silent."""
    from vigil.events import camera_actors
    from vigil.events.camera_feed import FeedOutputs

    monkeypatch.setattr(camera_actors, "PLACED_WITHIN_S", 0.5)
    config = VigilConfig(store={"data_dir": str(tmp_path)}, cameras={"attic": {"source": str(CLIP)}},
                         ray={"camera_cpus": 64})
    feeds = camera_actors.RayFeeds()
    sent: list[tuple] = []
    feeds.start(config, None, FeedOutputs(send=lambda *args: sent.append(args)))
    try:
        deadline = time.monotonic() + 10
        while "attic" not in feeds.errors and time.monotonic() < deadline:
            feeds.drain(0.2)
        assert "has not started" in feeds.errors["attic"] and "camera_cpus = 64" in feeds.errors["attic"]
        assert sent == []  # nothing made up on its behalf
    finally:
        feeds._stop.set()
        for actor in feeds.actors.values():
            local_ray.kill(actor, no_restart=True)
