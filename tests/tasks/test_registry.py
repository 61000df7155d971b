"""The task seam: a task registered from tests/ gets its /v2 route (in OpenAPI too), `vigil run` JSON and metrics
label with no change to src/; built-in tasks are discovered; non-re-entrant runners get one per worker; loading the
built-in models on the serving path leaves the model cache as it was."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import fixture_image
from tests.tasks import brightness
from vigil.cli.main import app as cli
from vigil.config.settings import VigilConfig
from vigil.execute.local import Engine
from vigil.imaging import images
from vigil.serve.app import create_app
from vigil.tasks.base import TaskDef, register, unregister
from vigil.tasks.discover import discover


@pytest.fixture
def fake_task():
    register(brightness.TASK)
    yield brightness.TASK
    unregister(brightness.TASK.name)


def _expected(scale: float = 1.0) -> float:
    frame = images.load(fixture_image("dog.jpg"), fit=(64, 64))
    return round(float(frame.pixels.astype(np.float32).mean() / 255.0) * scale, 6)


def test_built_in_tasks_are_discovered():
    tasks = discover()
    assert {"detect", "faces", "classify"} <= set(tasks)
    assert all(isinstance(t, TaskDef) for t in tasks.values())
    assert tasks["faces"].path == "/v2/faces/recognize"


def test_a_task_from_tests_gets_route_openapi_and_metrics(fake_task, tmp_path):
    engine = Engine(VigilConfig(server={"workers": 2}, store={"data_dir": tmp_path}))
    client = TestClient(create_app(engine))
    image = fixture_image("dog.jpg").read_bytes()
    reply = client.post("/v2/brightness", files={"image": ("dog.jpg", image)}, data={"scale": "2"})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"image": "dog.jpg", "brightness": _expected(2.0)}
    bad = client.post("/v2/brightness", files={"image": ("dog.jpg", image)}, data={"scale": "99"})
    assert bad.status_code == 422
    broken = client.post("/v2/brightness", files={"image": ("x.jpg", b"not an image")})
    assert broken.status_code == 400 and broken.json()["type"] == "BadInput"

    operation = client.get("/openapi.json").json()["paths"]["/v2/brightness"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {"400", "401", "403", "413", "415", "422", "500", "503"} <= set(operation["responses"])
    metrics = client.get("/metrics").text
    assert 'vigil_requests_total{front="http",route="/v2/brightness",status="200",task="brightness"} 1.0' in metrics
    assert 'vigil_model_seconds_count{model="brightness",task="brightness"}' in metrics
    engine.close()


def test_a_runner_that_is_not_reentrant_is_loaded_per_worker(fake_task, tmp_path):
    engine = Engine(VigilConfig(server={"workers": 2}, store={"data_dir": tmp_path}))
    before = brightness.BrightnessRunner.loaded
    frame = images.load(fixture_image("dog.jpg"), fit=(64, 64))
    options = brightness.BrightnessOptions()

    def client() -> None:
        for _ in range(40):
            engine.run("brightness", frame, options, engine.deadline())

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runners = engine.loaded("brightness").runners
    engine.close()
    assert brightness.BrightnessRunner.loaded - before == 2 and runners[0] is not runners[1]
    assert all(len(r.threads) <= 1 for r in runners)  # no runner ever saw two threads


def test_vigil_run_json_for_a_task_from_tests(fake_task, tmp_path):
    config = tmp_path / "vigil.toml"
    config.write_text(f'[store]\ndata_dir = "{tmp_path}"\n')
    result = CliRunner().invoke(cli, ["run", "brightness", str(fixture_image("dog.jpg")), str(tmp_path / "no.jpg"),
                                      "--json", "--option", "scale=0.5", "-c", str(config)])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert entries[0] == {"image": str(fixture_image("dog.jpg")), "brightness": _expected(0.5)}
    assert entries[1]["image"] == str(tmp_path / "no.jpg") and "no such file" in entries[1]["error"]
    bad = CliRunner().invoke(cli, ["run", "brightness", str(fixture_image("dog.jpg")), "--option", "scale=oops",
                                   "-c", str(config)])
    assert bad.exit_code == 2 and "scale" in bad.stderr


def test_unknown_task_names_close_matches():
    result = CliRunner().invoke(cli, ["run", "detcet", "x.jpg", "--json"])
    assert result.exit_code == 2 and "detect" in result.stderr


def _tree(root) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_loading_on_the_serving_path_never_changes_the_cache(store, tmp_path):
    """Pulling and converting are `vigil models pull`'s job; serving only reads and verifies."""
    config = VigilConfig(store={"home": store.home, "data_dir": tmp_path}, server={"workers": 2})
    for name in (config.faces.detector, config.faces.embedder):
        store.pull(name)  # what `make models` did; a no-op here
    before = _tree(store.home)
    engine = Engine(config)
    try:
        engine.setup(preload=True)
        assert {"detect", "faces"} <= set(engine._batchers)
    finally:
        engine.close()
    assert _tree(store.home) == before
