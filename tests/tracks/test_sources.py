"""Sources and bad input: a real RTSP server that drops and comes back, a stream that never connects, a corrupt
frame, a video whose index is broken, a truncated video, frames out of order."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import fixture_image, jpeg
from vigil.errors import BadInput
from vigil.imaging import images
from vigil.sources.frames import FolderSource, Frame, Source
from vigil.sources.reader import open_source
from vigil.sources.video import StreamSource, VideoSource

SERVER = Path(__file__).with_name("rtsp_server.py")
DEBIAN_PYTHON = "/usr/bin/python3"  # where python3-gi is installed (.ci/run installs the RTSP server's packages)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, lifetime: float) -> subprocess.Popen:
    process = subprocess.Popen([DEBIAN_PYTHON, str(SERVER), str(port), str(lifetime)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready", process.stderr.read()
    return process


def test_an_rtsp_stream_that_drops_is_reconnected_and_the_drop_counted():
    """A real GStreamer RTSP server serves for 3 s and quits; another comes up on the same port 1 s later. The
    reader counts the drop, reconnects, and frames keep coming with times that never go back."""
    port = free_port()
    first = start_server(port, lifetime=3.0)
    servers = [first]

    def restart() -> None:
        first.wait(timeout=20)
        time.sleep(1.0)
        servers.append(start_server(port, lifetime=20.0))

    threading.Thread(target=restart, daemon=True).start()
    source = StreamSource(f"rtsp://127.0.0.1:{port}/cam", retries=10, duration_s=40.0)
    before, after = [], []
    try:
        for frame in source:  # until 10 frames have come after the reconnect
            assert frame.pixels.shape == (240, 320, 3)
            (after if source.counters.reconnects else before).append(frame.time_s)
            if len(after) >= 10:
                break
    finally:
        for server in servers:
            server.kill()
            server.wait(timeout=10)
    assert source.counters.drops == 1 and source.counters.reconnects == 1, source.counters
    assert len(before) >= 10 and len(after) == 10
    assert after[0] - before[-1] >= 1.0, "no hole where the server was down"
    times = before + after
    assert times == sorted(times)


def test_a_stream_that_never_connects_fails_with_a_clear_message():
    url = f"rtsp://127.0.0.1:{free_port()}/cam"
    with pytest.raises(BadInput, match=r"gave up after 2 failed connection attempts"):
        list(open_source(url, retries=1))


def test_a_corrupt_frame_is_dropped_and_counted_and_the_rest_kept(tmp_path):
    photo = images.load(fixture_image("vtest_000.jpg")).pixels
    for i in range(4):
        (tmp_path / f"{i:02d}.jpg").write_bytes(jpeg(photo) if i != 2 else b"\xff\xd8\xff\xe0 not a jpeg")
    source = FolderSource(tmp_path)
    frames = list(source)
    assert [f.index for f in frames] == [0, 1, 3]
    assert source.counters.dropped == 1 and "02.jpg" in source.counters.problems[0]


class _Replayed(Source):
    def __init__(self, times: list[float]) -> None:
        super().__init__("replayed camera")
        self.times = times

    def frames(self):
        pixels = np.zeros((4, 4, 3), np.uint8)
        return (Frame(i, t, pixels) for i, t in enumerate(self.times))


def test_frames_out_of_order_are_dropped_and_counted():
    source = _Replayed([0.0, 0.1, 0.05, 0.1, 0.2])
    assert [f.index for f in source] == [0, 1, 4]
    assert source.counters.dropped == 2 and "out of order" in source.counters.problems[0]


def write_avi(path: Path, frames: int = 20) -> None:
    import av

    photo = images.load(fixture_image("vtest_000.jpg")).pixels[:288:2, :384:2]
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = photo.shape[1], photo.shape[0], "yuv420p"
        for i in range(frames):
            moved = np.ascontiguousarray(np.roll(photo, 4 * i, axis=1))
            for packet in stream.encode(av.VideoFrame.from_ndarray(moved, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_a_video_with_a_broken_index_is_read_in_stream_order(tmp_path):
    path = tmp_path / "broken_index.avi"
    write_avi(path)
    data = bytearray(path.read_bytes())
    at = data.rfind(b"idx1")
    assert at > 0
    data[at + 8:] = b"\x00" * (len(data) - at - 8)  # the index's entries zeroed
    path.write_bytes(bytes(data))
    assert len(list(VideoSource(path))) == 20


def test_a_corrupt_packet_costs_at_most_its_frames(tmp_path):
    path = tmp_path / "corrupt.avi"
    write_avi(path)
    data = bytearray(path.read_bytes())
    middle = data.find(b"00dc", len(data) // 2)  # a frame's chunk half way through
    data[middle + 8:middle + 400] = b"\x00" * 392
    path.write_bytes(bytes(data))
    source = VideoSource(path)
    frames = list(source)
    assert 18 <= len(frames) <= 20 and [f.index for f in frames] == sorted(f.index for f in frames)


def test_a_truncated_video_is_a_clear_error(tmp_path):
    path = tmp_path / "cut.mp4"
    path.write_bytes((Path(__file__).parents[1] / "fixtures" / "video" / "vtest_60.mp4").read_bytes()[:5000])
    with pytest.raises(BadInput, match=r"cut\.mp4: (not a readable video|no frame could be decoded)"):
        list(VideoSource(path))


def test_an_unknown_source_names_what_it_accepts(tmp_path):
    with pytest.raises(BadInput, match=r"no such file, folder or stream URL"):
        open_source(str(tmp_path / "missing.mp4"))


def test_a_folder_of_alarm_frames_is_timed_by_when_they_were_written(tmp_path):
    photo = jpeg(images.load(fixture_image("vtest_000.jpg")).pixels[:96, :128])
    for i, written in enumerate([1000.0, 1000.5, 1003.0]):  # an NVR's alarm frames, irregular
        path = tmp_path / f"{i:05d}-capture.jpg"
        path.write_bytes(photo)
        os.utime(path, (written, written))
    assert [f.time_s for f in FolderSource(tmp_path)] == [0.0, 0.5, 3.0]
    assert [f.time_s for f in FolderSource(tmp_path, fps=2)] == [0.0, 0.5, 1.0]  # a given rate wins
    os.utime(tmp_path / "00002-capture.jpg", (900.0, 900.0))  # copied files: times that do not rise
    assert [f.time_s for f in FolderSource(tmp_path)] == [0.0, 0.1, 0.2]
