"""`vigil serve --ray`: the existing serving tests' DeepStack detection and face calls, answered by Ray Serve with
two replicas of each task deployment on the session's local Ray."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
import requests

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
from vigil.config import VigilConfig

pytestmark = pytest.mark.integration


@dataclass
class RayServer:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def server(tmp_path_factory, store, face_models, local_ray):
    from vigil.serve import on_ray

    port = free_port()
    config = VigilConfig(
        server={"host": "127.0.0.1", "port": port, "api_key": API_KEY, "admin_key": ADMIN_KEY,
                "request_timeout_s": 60},
        store={"data_dir": str(tmp_path_factory.mktemp("ray-serve"))},
        ray={"min_replicas": 2, "max_replicas": 2, "replica_cpus": 0.25})
    on_ray.start(config, "auto")
    running = RayServer(port)
    deadline = time.monotonic() + 120
    while requests.get(f"{running.url}/health", timeout=5).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    yield running
    on_ray.stop()


def test_two_replicas_of_each_task(server):
    from ray import serve

    deployments = serve.status().applications["vigil"].deployments
    running = {name: d.replica_states.get("RUNNING", 0) for name, d in deployments.items()}
    assert running == {"ingress": 2, "detect": 2, "faces": 2}
