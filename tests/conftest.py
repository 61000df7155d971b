"""Shared fixtures: the real test images and the real default detector (pulled by `make models`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_IMAGES = REPO.parent / "shared" / "testdata" / "images"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_image(name: str) -> Path:
    path = SHARED_IMAGES / name
    if not path.is_file():
        if os.environ.get("CI"):
            raise FileNotFoundError(f"{path} is missing: CI must have ../shared/testdata beside the clone")
        pytest.skip(f"shared test image {path} is not on this machine")
    return path


@pytest.fixture(scope="session")
def store():
    from vigil.registry.store import ModelStore

    store = ModelStore()
    store.pull("yolov4_tiny.coco")  # a no-op once `make models` has run; verifies sha256 either way
    return store


@pytest.fixture(scope="session")
def pipeline(store):
    from vigil.config import VigilConfig
    from vigil.pipeline import Pipeline

    return Pipeline(VigilConfig(), store).setup()


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray instance (2 CPUs) for the whole session: Ray starts slowly (the scale extra)."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
