"""The folder watcher with real watchdog (inotify) on a real folder: complete files only, cameras from paths,
a bounded queue per camera, catching up after a restart."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from vigil.config.events import WatchConfig
from vigil.events.openfiles import open_for_writing
from vigil.events.watcher import CameraNamer, FolderWatcher, Frame, FrameQueue


@pytest.mark.parametrize(("pattern", "path", "camera"), [
    ("", "/nvr/3/2026-01-01/00001-capture.jpg", "3"),  # ZoneMinder: the monitor id
    ("", "/nvr/snapshot.jpg", "default"),  # directly in the watched folder
    (r"^(?P<camera>[a-z]+)_\d+\.jpg$", "/nvr/porch_0001.jpg", "porch"),  # Blue Iris style names
    (r"^(?P<camera>[a-z]+)_\d+\.jpg$", "/nvr/x/porch.jpg", "default"),  # matches no pattern
])
def test_camera_from_path(pattern, path, camera):
    assert CameraNamer([Path("/nvr")], pattern, "default").camera(path) == camera


def test_a_pattern_without_a_camera_group_is_refused():
    with pytest.raises(ValueError, match="no \\(\\?P<camera>"):
        CameraNamer([Path("/nvr")], r"\d+", "default")


def test_a_full_queue_drops_the_oldest_frames_of_that_camera_only():
    dropped: list[Frame] = []
    queue = FrameQueue(2, dropped.append)
    for i in range(4):
        queue.put(Frame(f"busy/{i}", "busy", 0, 0))
    queue.put(Frame("quiet/0", "quiet", 0, 0))
    assert [f.path for f in dropped] == ["busy/0", "busy/1"]
    order = [queue.get(0.1).path for _ in range(3)]
    assert order == ["busy/2", "quiet/0", "busy/3"]  # cameras take turns
    assert queue.get(0.05) is None


def _watcher(root: Path, processed=lambda p, m: False, newest=lambda r: None, gone=None) -> tuple[FolderWatcher,
                                                                                                  FrameQueue]:
    queue = FrameQueue(8, lambda f: None)
    watcher = FolderWatcher(WatchConfig(dirs=[root]), queue, processed, newest, gone or (lambda c: None))
    return watcher.start(), queue


def _next(queue: FrameQueue, timeout: float = 10.0) -> Frame:
    frame = queue.get(timeout)
    assert frame is not None, "the watcher queued nothing"
    return frame


def test_a_half_written_file_is_not_read_before_it_is_closed(tmp_path):
    (tmp_path / "7").mkdir()
    watcher, queue = _watcher(tmp_path)
    try:
        target = tmp_path / "7" / "00001-capture.jpg"
        with open(target, "wb") as f:
            f.write(b"\xff\xd8" + b"\0" * 5000)
            f.flush()
            os.fsync(f.fileno())
            assert queue.get(1.5) is None  # open for writing: not complete, not queued
            f.write(b"\0" * 5000 + b"\xff\xd9")
        frame = _next(queue)
        assert frame.path == str(target) and frame.camera == "7" and frame.mtime == target.stat().st_mtime
        assert queue.get(0.5) is None  # queued once
        staged = tmp_path / "7" / ".upload.tmp"
        staged.write_bytes(b"x")
        staged.rename(tmp_path / "7" / "00002-capture.jpg")  # FTP-style: written elsewhere, renamed into place
        assert _next(queue).path.endswith("00002-capture.jpg")
        (tmp_path / "7" / "notes.txt").write_text("not a frame")
        assert queue.get(0.5) is None
    finally:
        watcher.stop()


def test_a_frame_written_at_once_into_a_new_folder_is_found(tmp_path):
    """ZoneMinder's first alarm frame lands in the event's brand-new folder, possibly before inotify watches it."""
    watcher, queue = _watcher(tmp_path)
    try:
        for i in range(3):
            folder = tmp_path / "5" / f"event{i}"
            folder.mkdir(parents=True)
            (folder / "00001-capture.jpg").write_bytes(b"\xff\xd8" + b"\0" * 200_000)
        assert sorted(Path(_next(queue).path).parent.name for _ in range(3)) == ["event0", "event1", "event2"]
    finally:
        watcher.stop()


def test_a_paused_writer_in_a_new_folder_is_waited_for(tmp_path):
    watcher, queue = _watcher(tmp_path)
    try:
        target = tmp_path / "6" / "00001-capture.jpg"
        target.parent.mkdir()
        with open(target, "wb") as f:
            f.write(b"\xff\xd8" + b"\0" * 5000)
            f.flush()
            assert queue.get(1.5) is None  # stable size, young folder, but still open for writing
            f.write(b"\xff\xd9")
        assert _next(queue).path == str(target)
    finally:
        watcher.stop()


def test_open_for_writing_sees_our_own_writers(tmp_path):
    path = tmp_path / "f.jpg"
    with open(path, "wb"):
        assert open_for_writing(str(path))
    with open(path, "rb"):
        assert not open_for_writing(str(path))
    assert not open_for_writing(str(tmp_path / "missing.jpg"))


def test_after_a_restart_only_unprocessed_newer_files_are_queued(tmp_path):
    (tmp_path / "3").mkdir()
    old, done, new = (tmp_path / "3" / f"{n}.jpg" for n in ("old", "done", "new"))
    for i, path in enumerate((old, done, new)):
        path.write_bytes(b"x")
        os.utime(path, (1000 + i, 1000 + i))
    processed = {str(done): 1001.0}
    watcher, queue = _watcher(tmp_path, lambda p, m: processed.get(p) == m, lambda root: 1001.0)
    try:
        assert _next(queue).path == str(new)  # old predates the newest processed file; done was processed
        assert queue.get(0.3) is None
    finally:
        watcher.stop()


def test_a_deleted_camera_folder_is_reported(tmp_path):
    (tmp_path / "9" / "day").mkdir(parents=True)
    gone: list[str] = []
    watcher, _ = _watcher(tmp_path, gone=gone.append)
    try:
        (tmp_path / "9" / "day").rmdir()
        (tmp_path / "9").rmdir()
        deadline = time.monotonic() + 10
        while not gone and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gone == ["9"]
    finally:
        watcher.stop()


def test_a_missing_folder_is_named(tmp_path):
    queue = FrameQueue(1, lambda f: None)
    watcher = FolderWatcher(WatchConfig(dirs=[tmp_path / "nope"]), queue, lambda p, m: False, lambda r: None)
    with pytest.raises(FileNotFoundError, match="nope is not a folder"):
        watcher.start()
