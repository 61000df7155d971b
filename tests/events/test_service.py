"""One frame through the service with the real default detector: events and snapshots in the log, frame skip per
camera, files processed once across restarts, a bad file failing only itself."""

from __future__ import annotations

import shutil
import time

from prometheus_client import CollectorRegistry

from tests.conftest import fixture_image
from vigil.config.settings import VigilConfig
from vigil.events.service import EventService
from vigil.events.watcher import Frame
from vigil.execute.local import Inline


def _frame(path, camera="3") -> Frame:
    return Frame(str(path), camera, path.stat().st_mtime, time.time())


def test_frames_become_events_once_with_frame_skip(tmp_path, store):
    config = VigilConfig(store={"data_dir": tmp_path / "data"}, watch={"frames_to_skip": 2, "faces": False})
    pipeline = Inline(config, store).setup()
    registry = CollectorRegistry()
    service = EventService(config, pipeline, registry)
    first, second = tmp_path / "3" / "00001-capture.jpg", tmp_path / "3" / "00002-capture.jpg"
    first.parent.mkdir()
    shutil.copy(fixture_image("dog.jpg"), first)
    shutil.copy(fixture_image("person.jpg"), second)  # within 2 frames: the first frame's labels are reused
    broken = tmp_path / "3" / "00010-capture.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")

    changes = service.process(_frame(first))
    assert {c.type for c in changes} == {"new"} and "dog" in {c.event.label for c in changes}
    assert all(c.event.has_snapshot and c.event.id for c in changes)
    assert service.log.snapshot(changes[0].event.id)[:2] == b"\xff\xd8"
    assert service.process(_frame(first)) == []  # already processed (path and mtime)
    assert service.process(_frame(second)) == []  # reused labels: the same events, nothing new
    assert service.process(_frame(broken)) == []  # fails only itself
    samples = {(s.labels["camera"], s.labels["outcome"]): s.value for m in registry.collect() for s in m.samples
               if s.name == "vigil_watch_frames_total"}
    assert samples == {("3", "processed"): 1, ("3", "skipped"): 1, ("3", "error"): 1}

    restarted = EventService(config, pipeline)
    assert restarted.process(_frame(first)) == [] and restarted.process(_frame(broken)) == []
    assert restarted.log.query()[0].camera == "3"


def test_the_watcher_runs_presence_and_crowd_too(tmp_path, store):
    """`[watch] tasks` takes any registered task (issue 19): each frame's answers are the camera's latest."""
    config = VigilConfig(store={"data_dir": tmp_path / "data"},
                         watch={"faces": False, "tasks": ["presence", "crowd"]})
    service = EventService(config, Inline(config, store).setup(), CollectorRegistry())
    frame = tmp_path / "gate" / "00001-capture.jpg"
    frame.parent.mkdir()
    shutil.copy(fixture_image("vtest_120.jpg"), frame)
    changes = service.process(_frame(frame, camera="gate"))
    assert "person" in {c.event.label for c in changes}
    latest = service.latest["gate"]
    assert latest["presence"]["person"] is True and latest["crowd"]["count"] >= 5
    empty = tmp_path / "gate" / "00002-capture.jpg"
    shutil.copy(fixture_image("giraffe.jpg"), empty)
    service.process(_frame(empty, camera="gate"))
    assert service.latest["gate"]["presence"]["person"] is False and service.latest["gate"]["crowd"]["count"] == 0
    service.log.close()
