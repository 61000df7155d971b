"""Issue 22: the watcher's alarm frames grouped into tracks per camera, with the real default detector. Two people
walking through are two events, each with its own `track_id`; a parked truck on alarm frames further apart than
`hold_s` and `track_gap_s` is one event, not one per alarm; a single alarm frame opens an event; a late frame is
counted, not a crash; the MQTT count is the number of open track events (real Mosquitto).

Frame times are the files' mtimes, set here; the hold time runs on the wall clock, so it is ended by calling the
service's `expire` with a later time rather than by waiting."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from prometheus_client import CollectorRegistry

from tests.conftest import fixture_image, jpeg
from vigil.config.settings import VigilConfig
from vigil.events.service import EventService
from vigil.events.watcher import Frame
from vigil.execute.local import Inline

STEP_S = 0.5  # between two alarm frames of one sequence
WALK = 6  # frames of the two walkers


def _service(tmp_path: Path, store, registry: CollectorRegistry | None = None, **sections) -> EventService:
    config = VigilConfig(store={"data_dir": tmp_path / "data"}, **{"watch": {"faces": False}, **sections})
    return EventService(config, Inline(config, store).setup(), registry or CollectorRegistry())


def _alarm(folder: Path, number: int, image: bytes | Path, mtime: float, camera: str) -> Frame:
    """An alarm frame written as the NVR would, its file time set to when it was taken."""
    path = folder / camera / f"{number:05d}-capture.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image if isinstance(image, bytes) else image.read_bytes())
    os.utime(path, (mtime, mtime))
    return Frame(str(path), camera, mtime, time.time())


def _walkers(step: int, who: tuple[int, ...] = (0, 1)) -> bytes:
    """Real pixels: the woman of person.jpg twice on a grey wall, one walking right, the other left."""
    woman = np.asarray(Image.open(fixture_image("person.jpg")).convert("RGB"))[95:380, 200:276]
    frame = np.full((432, 768, 3), 128, np.uint8)
    for x in [(60 + 30 * step, 620 - 30 * step)[i] for i in who]:
        frame[100:385, x:x + woman.shape[1]] = woman
    return jpeg(frame)


def _late(registry: CollectorRegistry, camera: str) -> float:
    return registry.get_sample_value("vigil_watch_late_total", {"camera": camera}) or 0.0


def test_two_people_walking_through_are_two_events_each_with_its_track(tmp_path, store):
    service = _service(tmp_path, store)
    t0 = time.time() - 60
    changes = [c for i in range(WALK) for c in service.process(_alarm(tmp_path, i + 1, _walkers(i), t0 + i * STEP_S,
                                                                      "hall"))]
    new = [c.event for c in changes if c.type == "new"]
    assert [e.label for e in new] == ["person", "person"]  # never one per frame
    assert len({e.track_id for e in new}) == 2 and None not in {e.track_id for e in new}
    assert sorted(e.track_id for e in service.log.query()) == sorted(e.track_id for e in new)
    for event in new:  # the open events as the service holds them
        assert event.end is None and event.frames == WALK and event.has_snapshot
        assert len(service.log.frames(event.id)) == WALK  # every frame shows both tracks' events
    service.log.close()


def test_a_parked_truck_on_alarms_far_apart_is_one_event_and_a_late_frame_is_counted(tmp_path, store):
    """dog.jpg (a dog and a truck, standing still) as three alarms a minute apart, each one after the events of the
    one before ended: one event per object, not one per alarm. Then a frame from before the last one arrives."""
    registry = CollectorRegistry()
    service = _service(tmp_path, store, registry, events={"hold_s": 5.0},
                       watch={"faces": False, "track_gap_s": 10.0})
    t0 = time.time() - 3600
    first = service.process(_alarm(tmp_path, 1, fixture_image("dog.jpg"), t0, "drive"))
    assert sorted((c.type, c.event.label) for c in first) == [("new", "dog"), ("new", "truck")]
    for alarm in (2, 3):
        ended = service.expire(time.time() + 60)  # the hold ran out between the alarms
        assert [c.type for c in ended] == ["end"] * (2 if alarm == 2 else 0)
        again = service.process(_alarm(tmp_path, alarm, fixture_image("dog.jpg"), t0 + 60 * (alarm - 1), "drive"))
        assert again == []  # found again where they stood: quiet
    assert sorted(e.label for e in service.log.query()) == ["dog", "truck"]

    late = service.process(_alarm(tmp_path, 4, fixture_image("person.jpg"), t0 + 30, "drive"))
    assert _late(registry, "drive") == 1
    assert {c.event.label for c in late if c.type == "new"} == {"person", "dog", "horse"}
    assert all(c.event.track_id is not None for c in late)
    service.log.close()


def test_a_single_alarm_frame_opens_one_event_per_object(tmp_path, store):
    service = _service(tmp_path, store)
    changes = service.process(_alarm(tmp_path, 1, fixture_image("person.jpg"), time.time() - 5, "gate"))
    assert sorted((c.type, c.event.label) for c in changes) == [("new", "dog"), ("new", "horse"), ("new", "person")]
    assert len({c.event.track_id for c in changes}) == 3 and all(c.event.track_id for c in changes)
    assert all(c.event.has_snapshot and c.event.count == 1 for c in changes)
    service.log.close()


def test_frame_skip_reuses_the_tracks_of_the_frame_it_reuses(tmp_path, store):
    service = _service(tmp_path, store, watch={"faces": False, "frames_to_skip": 2})
    t0 = time.time() - 60
    first = service.process(_alarm(tmp_path, 1, _walkers(0), t0, "hall"))
    assert [c.event.label for c in first] == ["person", "person"]
    assert service.process(_alarm(tmp_path, 2, _walkers(1), t0 + STEP_S, "hall")) == []  # reused: nothing new
    assert [c.event.frames for c in first] == [2, 2]  # …but both events saw the frame
    service.log.close()


@pytest.mark.integration
def test_the_count_is_the_number_of_open_track_events(tmp_path, store, broker, subscriber):
    """Two people: 2; one leaves and their event ends: 1 while the other's goes on (not 0); then 0."""
    service = _service(tmp_path, store, events={"hold_s": 5.0},
                       mqtt={"host": "127.0.0.1", "port": broker.port, "client_id": "vigil-count-test"})
    service.publisher.start()
    assert service.publisher.connected.wait(10)
    t0 = time.time() - 60
    both = service.process(_alarm(tmp_path, 1, _walkers(0), t0, "walk"))
    one = service.process(_alarm(tmp_path, 2, _walkers(1, who=(0,)), t0 + STEP_S, "walk"))
    assert one == []
    stays, gone = sorted((c.event for c in both), key=lambda e: e.box[0])  # the one on the left walks on
    assert stays.last_seen > gone.last_seen  # seen again on the second frame
    ended = service.expire(gone.last_seen + 5.0)
    assert [(c.type, c.event.track_id) for c in ended] == [("end", gone.track_id)]
    assert [(c.type, c.event.track_id) for c in service.expire(stays.last_seen + 5.0)] == [("end", stays.track_id)]
    subscriber.wait_for("vigil/walk/person", lambda m: m.payload == b"0")
    assert [m.payload for m in subscriber.on("vigil/walk/person")] == [b"1", b"2", b"1", b"0"]
    service.publisher.stop()
    service.log.close()


def test_a_deleted_camera_ends_its_track_events(tmp_path, store):
    service = _service(tmp_path, store)
    service.process(_alarm(tmp_path, 1, _walkers(0), time.time() - 5, "shed"))
    shutil.rmtree(tmp_path / "shed")
    service.camera_gone("shed")
    assert all(e.end is not None for e in service.log.query()) and len(service.log.query()) == 2
    service.log.close()
