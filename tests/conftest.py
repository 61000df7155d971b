"""Shared fixtures: the real test images (vendored in tests/fixtures/images, see SOURCES.md there) and the real
default detector (pulled by `make models`)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

FIXTURES = Path(__file__).resolve().parent / "fixtures"
IMAGES = FIXTURES / "images"


def fixture_image(name: str) -> Path:
    """A real test image by file name. Never skips: a missing one is an error naming what exists."""
    path = IMAGES / name
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in IMAGES.iterdir()))
        raise FileNotFoundError(f"no fixture image {name!r} in {IMAGES} (there: {known})")
    return path


def own_peak(command: list[str]) -> list[str]:
    """`command` run through a small Python launcher, so that its peak RSS is its own: a process started straight
    from the suite's inherits the suite's peak (Linux keeps ru_maxrss across exec), which hides a child's growth
    from `getrusage` and makes libFuzzer's RSS cap trip at once."""
    return [sys.executable, "-c", "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)",
            *command]


def jpeg(rgb: np.ndarray) -> bytes:
    """An RGB array as the JPEG a camera would upload (quality 92)."""
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=92)
    return out.getvalue()


@pytest.fixture(scope="session")
def store():
    from vigil.registry.store import ModelStore

    store = ModelStore()
    store.pull("yolov4_tiny.coco")  # a no-op once `make models` has run; verifies sha256 either way
    return store


@pytest.fixture(scope="session")
def pipeline(store):
    from vigil.config.settings import VigilConfig
    from vigil.execute.local import Inline

    return Inline(VigilConfig(), store).setup()


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray instance (2 CPUs) for the whole session: Ray starts slowly (the scale extra)."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
