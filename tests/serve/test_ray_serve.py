"""`vigil serve --ray`: the existing serving tests' DeepStack detection and face calls, answered by Ray Serve with
two replicas of the preloaded task deployments (detect, faces) on the session's local Ray; every registered task's
/v2 route answering as the in-process app does, from its own deployment.

Every deployment at its most replicas (2 × 0.2 CPUs × 5 tasks; the ingress reserves none) fits the session's 2 CPUs."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

import pytest
import requests
from fastapi.testclient import TestClient

from tests.conftest import fixture_image
from tests.serve.server import ADMIN_KEY, API_KEY, free_port
from tests.serve.test_faces_server import (  # noqa: F401 - the in-process server's tests, run against Ray Serve
    enrolled,
    photos,
    test_deepstack_python_register_list_recognize,
    test_face_detection_and_match,
    test_native_gallery_routes,
    test_register_without_a_face_or_userid_is_400,
)
from tests.serve.test_http_server import (  # noqa: F401
    test_deepstack_python_object_detection,
    test_deepstack_python_wrong_key_is_refused,
    test_deepstack_response_keys_and_min_confidence,
)
from vigil.config.settings import VigilConfig
from vigil.tasks.discover import discover

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {API_KEY}"}
MEDIA = ("vtest_000.jpg", "messi5.jpg", "person.jpg")  # server-side images for /v2/detect/paths
PRELOADED = ("detect", "faces")  # TaskDef.preload: [ray] min_replicas; the other tasks start at none


@dataclass
class RayServer:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    media = tmp_path_factory.mktemp("ray-media")
    for name in MEDIA:
        shutil.copy(fixture_image(name), media / name)
    return VigilConfig(
        server={"host": "127.0.0.1", "port": free_port(), "api_key": API_KEY, "admin_key": ADMIN_KEY,
                "request_timeout_s": 60},
        store={"data_dir": str(tmp_path_factory.mktemp("ray-serve"))}, media={"roots": [str(media)]},
        ray={"min_replicas": 2, "max_replicas": 2, "replica_cpus": 0.2})


@pytest.fixture(scope="module")
def server(config, store, face_models, local_ray):
    from vigil.serve import on_ray

    on_ray.start(config, "auto")
    running = RayServer(config.server.port)
    deadline = time.monotonic() + 120
    while requests.get(f"{running.url}/health", timeout=5).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    yield running
    on_ray.stop()
    from ray import serve

    serve.shutdown()  # the next module's Serve binds its own port


@pytest.fixture(scope="module")
def in_process(config, store):
    """The same app in-process (`vigil serve` without --ray), for the answers Ray Serve must give."""
    from vigil.execute.local import Engine
    from vigil.serve.app import create_app

    engine = Engine(config).setup()
    yield TestClient(create_app(engine))
    engine.close()


def _running() -> dict[str, int]:
    from ray import serve

    deployments = serve.status().applications["vigil"].deployments
    return {name: d.replica_states.get("RUNNING", 0) for name, d in deployments.items()}


def test_a_deployment_per_registered_task_two_replicas_of_the_preloaded(server):
    from ray import serve

    deployments = serve.status().applications["vigil"].deployments
    assert set(deployments) == {"ingress", *discover()} >= {"ingress", "detect", "faces", "classify", "presence",
                                                           "crowd"}
    assert {name: d.status for name, d in deployments.items()} == dict.fromkeys(deployments, "HEALTHY")
    running = _running()
    assert {name: running[name] for name in ("ingress", *PRELOADED)} == {"ingress": 2, "detect": 2, "faces": 2}
    assert {name: running[name] for name in ("presence", "crowd")} == {"presence": 0, "crowd": 0}  # none asked yet


@pytest.mark.parametrize(("route", "image", "form"), [
    ("/v2/detect", "vtest_000.jpg", {}),
    ("/v2/detect", "vtest_000.jpg", {"min_score": "0.6", "labels": "person"}),
    ("/v2/presence", "person.jpg", {}),
    ("/v2/presence", "dog.jpg", {}),
    ("/v2/crowd", "vtest_120.jpg", {}),
    ("/v2/crowd", "vtest_120.jpg", {"heatmap": "true"}),
])
def test_task_routes_answer_as_in_process(server, in_process, route, image, form):
    files = {"image": (image, fixture_image(image).read_bytes())}
    on_ray = requests.post(f"{server.url}{route}", files=files, data=form, headers=AUTH, timeout=60)
    local = in_process.post(route, files=files, data=form, headers=AUTH)
    assert on_ray.status_code == local.status_code == 200, on_ray.text
    assert on_ray.json() == local.json()


def test_paths_and_person_labels_answer_as_in_process(server, in_process, config):
    """/v2/detect/paths keeps several frames in flight on the detect deployment; /v2/faces/label names the persons on
    a faces replica (`[recognize] by = face_gallery`)."""
    root = config.media.roots[0]
    body = {"paths": [str(root / name) for name in MEDIA] + [str(root / "missing.jpg")], "min_score": 0.3}
    found = requests.post(f"{server.url}/v2/detect/paths", json=body, headers=AUTH, timeout=60)
    assert found.status_code == 200 and found.json() == in_process.post("/v2/detect/paths", json=body,
                                                                        headers=AUTH).json()
    assert [bool(entry.get("error")) for entry in found.json()] == [False] * len(MEDIA) + [True]
    labelled = requests.post(f"{server.url}/v2/faces/label", json=found.json(), headers=AUTH, timeout=60)
    assert labelled.status_code == 200
    assert labelled.json() == in_process.post("/v2/faces/label", json=found.json(), headers=AUTH).json()
    persons = [label for entry in labelled.json() for label in entry.get("labels", []) if label["name"] == "person"]
    assert persons and all("face" in label and "faceProba" in label for label in persons)


def test_a_task_that_cannot_load_answers_403_with_the_reason_as_in_process(server, in_process):
    files = {"image": ("p.jpg", fixture_image("person.jpg").read_bytes())}
    on_ray = requests.post(f"{server.url}/v2/classify", files=files, headers=AUTH, timeout=60)
    local = in_process.post("/v2/classify", files=files, headers=AUTH)
    assert on_ray.status_code == local.status_code == 403
    assert on_ray.json() == local.json() and "[recognize] person_model" in on_ray.json()["error"]


def test_a_task_runs_in_its_own_replicas(server):
    """A /v2/presence request has a presence replica running (the deployment starts at none); the runner lives
    there, in another process than the ingress's engine, which loads no model."""
    from ray import serve

    image = {"image": ("d.jpg", fixture_image("dog.jpg").read_bytes())}
    reply = requests.post(f"{server.url}/v2/presence", files=image, headers=AUTH, timeout=60)
    assert reply.status_code == 200 and _running()["presence"] >= 1
    handle = serve.get_deployment_handle("presence", "vigil")
    where = handle.on_runner.remote(lambda r: (serve.get_replica_context().deployment, os.getpid(),
                                               type(r).__name__)).result(timeout_s=30)
    assert where[0] == "presence" and where[2] == "PresenceModel" and where[1] != os.getpid()
