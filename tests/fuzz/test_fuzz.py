"""A few seconds of each atheris target (libFuzzer, with a memory cap) from a small seed corpus of real formats;
`make fuzz` runs them for long. A crash, an assertion or an allocation over the cap fails the test."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import own_peak

HERE = Path(__file__).resolve().parent
SECONDS = int(os.environ.get("VIGIL_FUZZ_SECONDS", "3"))


def _seeds(folder: Path) -> Path:
    folder.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
    for fmt in ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF"):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, fmt)
        (folder / fmt.lower()).write_bytes(buffer.getvalue())
    part = b'--xyz\r\nContent-Disposition: form-data; name="%s"%s\r\n\r\n%s\r\n'
    body = part % (b"api_key", b"", b"k") + part % (b"image", b'; filename="a"', b"\xff\xd8") + b"--xyz--\r\n"
    (folder / "multipart").write_bytes(b"\x00\x10" + body)
    (folder / "entries").write_bytes(b"\x02\x10" + b'[{"image": "a.jpg", "labels": [{"id": 1e999, "box": {}}]}]')
    return folder


@pytest.mark.parametrize("target", ["fuzz_images.py", "fuzz_forms.py"])
def test_fuzz_target_runs_clean(tmp_path, target):
    pytest.importorskip("atheris")
    corpus = _seeds(tmp_path / "corpus")
    # only the tree's own sources: the suite's process may carry paths other tests added (Ray's workers, say)
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
    done = subprocess.run(own_peak([sys.executable, str(HERE / target), f"-max_total_time={SECONDS}",
                                    "-rss_limit_mb=3072", "-malloc_limit_mb=512", "-timeout=20",
                                    f"-artifact_prefix={tmp_path}/", str(corpus)]),
                          capture_output=True, text=True, env=env, timeout=SECONDS + 120)
    assert done.returncode == 0, done.stderr[-3000:]
