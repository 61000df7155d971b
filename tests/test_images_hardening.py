"""Images that are cheap to send and expensive to take: big lossless frames, FIFOs, odd paths, truncated files."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import fixture_image, own_peak
from vigil.errors import BadInput
from vigil.imaging import images

PEAK_RSS = """
import resource, sys
from vigil.errors import BadInput
from vigil.imaging import images
data = open(sys.argv[1], "rb").read()
limits = images.ImageLimits(max_pixels=50_000_000)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    frame = images.decode(data, limits, fit=None if sys.argv[2] == "full" else (512, 512))
    shape = (frame.pixels.shape[1], frame.width)
except BadInput:
    shape = (-1, -1)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(*shape, grown // 1024)
"""


def peak_rss(path: Path, mode: str) -> tuple[int, int, int]:
    """(decoded width, width, MB the decode raised the peak RSS by) of a file decoded in a process of its own;
    (-1, -1, MB) when the decoder refused it (BadInput)."""
    env = {**os.environ, "PYTHONPATH": str(Path(images.__file__).parents[1])}
    out = subprocess.run(own_peak([sys.executable, "-c", PEAK_RSS, str(path), mode]), capture_output=True,
                         text=True, env=env, check=True).stdout.split()
    decoded_width, width, grown_mb = map(int, out)
    return decoded_width, width, grown_mb


@pytest.fixture(scope="module")
def big_png(tmp_path_factory):
    """A 7000 × 7000 RGB PNG of a few hundred KB: 147 MB once decoded."""
    pixels = np.zeros((7000, 7000, 3), np.uint8)
    pixels[::50] = 255
    path = tmp_path_factory.mktemp("big") / "big.png"
    Image.fromarray(pixels).save(path, "PNG")
    return path


@pytest.mark.parametrize(("mode", "bound_mb"), [("fit", 250), ("full", 320)])
def test_a_7000_square_png_raises_peak_memory_within_its_bound(big_png, mode, bound_mb):
    """Detection (fit) decodes at 1/8 while reading: < 250 MB. Face routes need full size: OpenCV's PNG decoder
    peaks near twice the 147 MB of pixels (at the default max_pixels, 8K: ~200 MB)."""
    decoded_width, width, grown_mb = peak_rss(big_png, mode)
    assert width == 7000
    assert decoded_width == (875 if mode == "fit" else 7000)  # 1/8 still covers 512 × 512
    assert grown_mb < bound_mb, f"decoding raised peak RSS by {grown_mb} MB"


def test_default_pixel_limit_is_8k_and_refuses_7000_square_from_the_header(big_png):
    with pytest.raises(BadInput, match="over the 33177600 limit"):
        images.decode(big_png.read_bytes())


def test_reduced_png_matches_a_resize_of_the_full_decode():
    frame = images.decode(_png(np.full((1200, 1600, 3), (10, 200, 30), np.uint8)), fit=(400, 400))
    assert frame.pixels.shape == (300, 400, 3) and frame.scale == 0.25
    assert (frame.pixels[150, 200] == (10, 200, 30)).all()  # RGB order survives OpenCV's BGR


def test_decodes_at_once_stay_within_the_memory_budget():
    budget = images._MemoryBudget(100)
    peak, running, lock = [0], [0], threading.Lock()

    def job():
        with budget.hold(40):
            with lock:
                running[0] += 40
                peak[0] = max(peak[0], running[0])
            time.sleep(0.02)
            with lock:
                running[0] -= 40

    threads = [threading.Thread(target=job) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] <= 100
    with budget.hold(10_000):  # larger than the budget: runs alone instead of waiting forever
        assert budget.used == 100


def test_a_fifo_in_a_media_root_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "frame.jpg"
    os.mkfifo(fifo)
    with pytest.raises(BadInput, match="not a regular file"):  # a blocking open would hang here
        images.read_bytes(fifo)


@pytest.mark.parametrize("kind", ["not-a-dir", "long-name", "symlink-loop", "truncated-webp"])
def test_each_odd_path_or_file_is_its_own_bad_input(tmp_path, kind):
    image = fixture_image("dog.jpg")
    if kind == "not-a-dir":
        path = tmp_path / "file.jpg"
        path.write_bytes(image.read_bytes())
        path = path / "x"
    elif kind == "long-name":
        path = tmp_path / ("a" * 300 + ".jpg")
    elif kind == "symlink-loop":
        path = tmp_path / "loop.jpg"
        path.symlink_to(path)
    else:
        data = io.BytesIO()
        Image.open(image).save(data, "WEBP")
        path = tmp_path / "cut.webp"
        path.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    with pytest.raises(BadInput):
        images.load(path)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_png_chunk_claiming_4_gb_is_refused_without_allocating_it(tmp_path):
    """Found by tests/fuzz: OpenCV allocated what the IDAT length said (2.4 GB for a 90-byte file). Measured in a
    process of its own: in the suite's, whose peak is already GBs, the growth would not show."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0)
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    data = head + b"\xff\xff\xff\xffIDAT" + zlib.compress(b"\0" * 64) + b"\0\0\0\0IEND\xaeB`\x82"
    with pytest.raises(BadInput):
        images.decode(data, fit=(32, 32))
    (tmp_path / "claims_4gb.png").write_bytes(data)
    decoded_width, _, grown_mb = peak_rss(tmp_path / "claims_4gb.png", "fit")
    assert decoded_width == -1 and grown_mb < 250
