"""In-process checks of the hardened app: a broken face model is not reloaded on every call and its 403 names no
server path; unexpected errors carry no exception class; an over-long enrolment is refused at once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import fixture_image
from vigil.config.settings import VigilConfig
from vigil.execute.local import Engine
from vigil.registry.face_catalog import BLAZEFACE
from vigil.registry.store import ModelStore
from vigil.serve.app import create_app


@pytest.fixture(scope="module")
def broken(store, tmp_path_factory):
    """An engine whose store has the detector but a corrupt face detector file."""
    home = tmp_path_factory.mktemp("home")
    (home / "models").mkdir()
    (home / "models" / "yolov4_tiny.coco").symlink_to(store.folder("yolov4_tiny.coco"), target_is_directory=True)
    face = ModelStore(home).spec(BLAZEFACE).files["model"].name
    (home / "models" / BLAZEFACE).mkdir()
    (home / "models" / BLAZEFACE / face).write_bytes(b"not a model")
    config = VigilConfig(store={"home": home, "data_dir": tmp_path_factory.mktemp("data")},
                         limits={"max_enroll_images": 2})
    engine = Engine(config)
    yield engine, home
    engine.close()


def test_a_broken_face_model_answers_403_without_paths_and_is_not_reloaded_each_call(broken):
    engine, home = broken
    client = TestClient(create_app(engine))
    image = fixture_image("messi5.jpg").read_bytes()
    first = client.post("/v1/vision/face", files={"image": ("a.jpg", image)})
    assert first.status_code == 403 and "not activated" in first.json()["error"]
    assert str(home) not in first.text and "/models/" not in first.text
    failed_at = engine._failed["faces"][0]
    second = client.post("/v1/vision/face", files={"image": ("a.jpg", image)})
    assert second.status_code == 403 and engine._failed["faces"][0] == failed_at  # remembered, not loaded again
    assert client.get("/health").status_code in (200, 503)


def test_enrolment_over_the_image_cap_is_refused_before_any_work(broken):
    engine, _ = broken
    client = TestClient(create_app(engine))
    files = [("images", (f"{i}.jpg", b"x")) for i in range(3)]
    reply = client.post("/v2/gallery/someone", files=files)
    assert reply.status_code == 400 and "max_enroll_images" in reply.json()["error"]
