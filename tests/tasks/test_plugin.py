"""A task from another installed package (tests/plugin: `vigil-glow`, entry point group `vigil.tasks`) gets its /v2
route, the page's panel, `vigil run`, a `vigil batch` column, a metrics label and a watcher column with no change
under src/. The package is really installed (pip, into a temporary folder put on PYTHONPATH), and every check runs
in a fresh process, as a user's would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import fixture_image

PLUGIN = Path(__file__).resolve().parents[1] / "plugin"
VIGIL = Path(sys.executable).with_name("vigil")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "--target", str(target), str(PLUGIN)], check=True, capture_output=True, timeout=180)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}


def test_the_plugin_task_is_served_with_route_panel_and_metrics(installed, store):
    script = f"""
import json
from fastapi.testclient import TestClient
from vigil.config.settings import VigilConfig
from vigil.execute.local import Engine
from vigil.serve.app import create_app
engine = Engine(VigilConfig(server={{"workers": 1}})).setup()
client = TestClient(create_app(engine))
image = open({str(fixture_image("dog.jpg"))!r}, "rb").read()
answer = client.post("/v2/glow", files={{"image": ("dog.jpg", image)}}, data={{"scale": "2"}})
page = client.get("/").text
features = client.get("/v2/ui/features").json()
metrics = client.get("/metrics").text
engine.close()
print(json.dumps({{"status": answer.status_code, "answer": answer.json(), "panel": "glow-result" in page,
                  "tasks": [t["name"] for t in features["tasks"]],
                  "metric": 'task="glow"' in metrics}}))
"""
    done = subprocess.run([sys.executable, "-c", script], env=installed, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["status"] == 200 and found["answer"]["image"] == "dog.jpg" and 0 < found["answer"]["glow"] < 511
    assert found["panel"] and "glow" in found["tasks"] and found["metric"]


def test_vigil_run_and_batch_take_the_plugin_task(installed, store, tmp_path):
    image = str(fixture_image("dog.jpg"))
    run = subprocess.run([str(VIGIL), "run", "glow", image, "--json", "--option", "scale=0.5"], env=installed,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    [entry] = json.loads(run.stdout)
    assert entry["image"] == image and 0 < entry["glow"] < 128
    out = tmp_path / "rows.jsonl"
    batch = subprocess.run([str(VIGIL), "batch", image, "--tasks", "detect,glow", "--workers", "1", "--out",
                            str(out), "--json"], env=installed, capture_output=True, text=True, timeout=300)
    assert batch.returncode == 0, batch.stderr[-2000:]
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["image"] == image and row["labels"] and row["glow"]["glow"] == pytest.approx(2 * entry["glow"], 1e-3)


def test_without_the_package_there_is_no_such_task(store):
    done = subprocess.run([str(VIGIL), "run", "glow", str(fixture_image("dog.jpg")), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0 and "no task 'glow'" in (done.stdout + done.stderr)
