"""The watcher under abuse (issue 20): a file name that is not UTF-8, a thread that dies, a flood of cameras. A real
watchdog observer on a real folder, files logged in a real SQLite event log."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from tests.conftest import fixture_image
from vigil.config.events import WatchConfig
from vigil.events.log import EventLog
from vigil.events.watcher import FolderWatcher, Frame, FrameQueue

NOT_UTF8 = b"\xe9t\xe9.jpg"  # Latin-1 "été.jpg"


def _watch(root: Path, log: EventLog, queue: FrameQueue | None = None) -> tuple[FolderWatcher, FrameQueue]:
    queue = FrameQueue(8, lambda f: None) if queue is None else queue
    return FolderWatcher(WatchConfig(dirs=[root]), queue, log.processed, log.newest_processed).start(), queue


def _drop(target: Path | bytes) -> str:
    data = fixture_image("dog.jpg").read_bytes()
    with open(target, "wb") as f:  # open, write, close: inotify's close event
        f.write(data)
    return os.fsdecode(target)


def _next(queue: FrameQueue, timeout: float = 10.0) -> Frame:
    frame = queue.get(timeout)
    assert frame is not None, "the watcher queued nothing"
    return frame


def test_a_name_that_is_not_utf8_is_skipped_and_the_watcher_goes_on(tmp_path, caplog):
    root, cam = tmp_path / "nvr", tmp_path / "nvr" / "cam"
    cam.mkdir(parents=True)
    log = EventLog(tmp_path / "events.sqlite3")
    watcher, queue = _watch(root, log)
    try:
        _drop(os.path.join(os.fsencode(cam), NOT_UTF8))
        good = _drop(cam / "00002-capture.jpg")
        frame = _next(queue)
        assert frame.path == good and frame.camera == "cam"  # the later frame is queued
        log.mark_processed(frame.path, frame.mtime)
        assert queue.get(0.5) is None and watcher.alive
        assert any("not UTF-8" in r.getMessage() for r in caplog.records)
    finally:
        watcher.stop()

    # the newest file is the bad one: the catch-up scan at the next start skips it and queues the frame after it
    time.sleep(0.01)
    _drop(os.path.join(os.fsencode(cam), NOT_UTF8))
    later = _drop(cam / "00003-capture.jpg")
    watcher, queue = _watch(root, log)
    try:
        assert _next(queue).path == later and watcher.alive
        assert _drop(cam / "00004-capture.jpg") == _next(queue).path  # and it watches on
    finally:
        watcher.stop()
        log.close()


def test_a_dead_watcher_thread_is_seen_and_restarted(tmp_path):
    cam = tmp_path / "nvr" / "cam"
    cam.mkdir(parents=True)
    log = EventLog(tmp_path / "events.sqlite3")
    watcher, queue = _watch(tmp_path / "nvr", log)
    try:
        assert watcher.alive and not watcher.revive()
        watcher._observer.stop()  # the observer's thread ends, as an uncaught error would end it
        watcher._observer.join(5)
        assert not watcher.alive
        missed = _drop(cam / "00001-capture.jpg")  # written while nothing watched
        log.mark_processed(str(tmp_path / "nvr" / "cam" / "00000-capture.jpg"), 0.0)  # a past frame: catch-up on
        assert watcher.revive() and watcher.alive
        assert _next(queue).path == missed  # caught up on
        assert _drop(cam / "00002-capture.jpg") == _next(queue).path  # and watching again
    finally:
        watcher.stop()
        log.close()
    assert not watcher.alive and not watcher.revive()  # stopped on purpose: not restarted


def test_the_queue_is_bounded_across_cameras_dropping_the_oldest(tmp_path):
    root = tmp_path / "nvr"
    dropped: list[Frame] = []
    cameras = [root / f"cam{i:03d}" for i in range(40)]
    for folder in cameras:
        folder.mkdir(parents=True)
    log = EventLog(tmp_path / "events.sqlite3")
    watcher, queue = _watch(root, log, FrameQueue(8, dropped.append, total=10))
    try:
        for folder in cameras:
            _drop(folder / "00001-capture.jpg")
            time.sleep(0.005)  # found in this order
        deadline = time.monotonic() + 20
        while len(dropped) < 30:
            assert time.monotonic() < deadline, f"{len(dropped)} dropped, {len(queue)} queued"
            time.sleep(0.05)
        assert len(queue) == 10 and len(dropped) == 30  # 40 frames of 40 cameras, 10 kept
        kept = [_next(queue) for _ in range(10)]
        assert max(f.seen for f in dropped) <= min(f.seen for f in kept)  # the oldest went
        assert queue.get(0.2) is None and len(queue) == 0
        assert _drop(cameras[0] / "00002-capture.jpg") == _next(queue).path and watcher.alive
    finally:
        watcher.stop()
        log.close()
    shutil.rmtree(root)
