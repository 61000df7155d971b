"""Camera feeds on real Mosquitto: a configured camera tracked live publishes its availability, zone occupancy and
line counts (retained, on change) and loitering; a camera that fails stops alone."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest

from tests.conftest import fixture_image
from tests.events.broker import Subscriber
from tests.tracks.mot import CLIP
from vigil.config.cameras import CameraConfig
from vigil.config.events import MqttConfig
from vigil.events.camera_feed import start_feeds
from vigil.events.publisher import MqttPublisher


@pytest.fixture(scope="module")
def publisher(broker):
    running = MqttPublisher(MqttConfig(host="127.0.0.1", port=broker.port, client_id="vigil-feeds"),
                            "http://127.0.0.1:5000").start()
    assert running.connected.wait(10)
    yield running
    running.stop()


def test_feeds_publish_zone_line_and_availability_and_a_failing_camera_stops_alone(pipeline, publisher, subscriber):
    porch = CameraConfig(source=str(CLIP), fps=5, motion_gate=True,
                         zones={"door": {"points": [(300, 150), (500, 150), (500, 350), (300, 350)],
                                         "loiter_s": 1.0, "labels": ["person"]}},
                         lines={"mid": {"points": [(384, 0), (384, 576)]}})
    broken = CameraConfig(source="/nonexistent/garage.mp4")
    feeds = start_feeds({"porch": porch, "garage": broken, "folder_cam": CameraConfig()}, pipeline,
                        publisher.send, "vigil")
    assert [f.name for f in feeds] == ["porch", "garage"]  # a camera without a source is the watcher's
    for feed in feeds:
        feed.join(120)
    porch_feed, garage_feed = feeds
    assert garage_feed.error and "garage.mp4: no such file" in garage_feed.error
    assert porch_feed.error is None and porch_feed.report is not None
    report = porch_feed.report
    assert report.analysed <= 30 and report.zones["door"].max["person"] >= 2

    online = subscriber.wait_for("vigil/porch/available", lambda m: m.payload == b"online")
    offline = subscriber.wait_for("vigil/porch/available", lambda m: m.payload == b"offline")
    assert subscriber.messages.index(online) < subscriber.messages.index(offline)
    subscriber.wait_for("vigil/garage/available", lambda m: m.payload == b"offline")
    line = subscriber.on("vigil/porch/line/mid")
    assert json.loads(line[-1].payload) == report.lines["mid"]
    occupancy = [int(m.payload) for m in subscriber.on("vigil/porch/door/person")]
    assert max(occupancy) == report.zones["door"].max["person"]
    assert all(a != b for a, b in pairwise(occupancy)), "sent only on change"
    loiterers = [json.loads(m.payload) for m in subscriber.on("vigil/porch/loitering")]
    assert loiterers and sorted(e["track_id"] for e in loiterers) == sorted(report.zones["door"].loitering)
    assert all(e["zone"] == "door" and e["dwell_s"] >= 1.0 for e in loiterers)

    late = Subscriber(subscriber.port, client_id="vigil-late-subscriber").start()  # retained state, after the fact
    try:
        assert late.wait_for("vigil/porch/available").payload == b"offline"
        retained = late.wait_for("vigil/porch/line/mid")
        assert retained.retain and json.loads(retained.payload) == report.lines["mid"]
        assert late.wait_for("vigil/porch/door/person").retain
    finally:
        late.stop()


def test_the_event_service_runs_the_configured_cameras(tmp_path, pipeline, broker, subscriber):
    """`vigil serve` / `vigil watch` start a feed per [cameras.<name>] with a source, and stop it with the service."""
    from vigil.config.settings import VigilConfig
    from vigil.events.service import EventService

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        (frames / f"{i}.jpg").write_bytes(fixture_image("vtest_000.jpg").read_bytes())
    config = VigilConfig(cameras={"yard": {"source": str(frames), "motion_gate": False}},
                         store={"data_dir": tmp_path / "data"},
                         mqtt={"host": "127.0.0.1", "port": broker.port, "client_id": "vigil-feeds-service"})
    service = EventService(config, pipeline).start()
    try:
        assert [f.name for f in service.feeds] == ["yard"]
        service.feeds[0].join(60)
        subscriber.wait_for("vigil/yard/available", lambda m: m.payload == b"offline")
        report = service.feeds[0].report
        assert report is not None and report.analysed == 3
        stored = service.log.query()  # one event per track (3 people stand in the frame), each with its track id
        assert sorted(e.track_id for e in stored) == sorted(t.id for t in report.tracks)
        assert all(e.camera == "yard" and e.end is not None for e in stored)  # ended when the feed ended
        published = [json.loads(m.payload) for m in subscriber.on("vigil/events")]
        assert {p["track_id"] for p in published if p["camera"] == "yard"} == {e.track_id for e in stored}
    finally:
        service.stop()


def test_a_folder_camera_s_masks_hide_objects_from_the_watcher(tmp_path, pipeline):
    """[cameras.<name>] masks apply to the watcher's frames of the camera of that name: a mask over the whole
    frame leaves no event, the same frame on another camera opens its events."""
    from vigil.config.settings import VigilConfig
    from vigil.events.service import EventService
    from vigil.events.watcher import Frame as WatchedFrame

    whole = [[0, 0], [768, 0], [768, 576], [0, 576]]
    config = VigilConfig(cameras={"street": {"masks": {"all": whole}}}, store={"data_dir": tmp_path},
                         watch={"faces": False})
    service = EventService(config, pipeline)  # not started: frames are handed to it directly
    try:
        street, garden = tmp_path / "street.jpg", tmp_path / "garden.jpg"
        for path in (street, garden):
            path.write_bytes(fixture_image("vtest_000.jpg").read_bytes())
        assert service.process(WatchedFrame(str(street), "street", 1.0, 1.0)) == []
        opened = service.process(WatchedFrame(str(garden), "garden", 1.0, 1.0))
        assert "person" in {c.event.label for c in opened}
    finally:
        service.log.close()
