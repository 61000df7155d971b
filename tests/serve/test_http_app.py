"""The HTTP app in-process (FastAPI's TestClient) with a real Engine and model: error mapping, overload, timeout,
keys. Where a test needs the queue full or the model slow, the detector's batcher is swapped for a gated one."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from tests.conftest import fixture_image
from vigil.config.settings import VigilConfig
from vigil.errors import ConfigError
from vigil.execute.local import Engine
from vigil.serve.app import create_app
from vigil.serve.run import check_bind
from vigil.tasks.detect import DetectParams


@pytest.fixture(scope="module")
def engine(store, face_models, tmp_path_factory):
    config = VigilConfig(server={"request_timeout_s": 1.0, "queue_size": 1},
                         store={"data_dir": tmp_path_factory.mktemp("data")})
    engine = Engine(config).setup()
    yield engine
    engine.close()


class _GatedRunner:
    """The real detect runner, whose batches wait until the test opens the gate."""

    def __init__(self, runner, gate: threading.Event, entered: threading.Event) -> None:
        self.runner, self.gate, self.entered = runner, gate, entered

    def prepare(self, frame, options):
        return self.runner.prepare(frame, options)

    def run_batch(self, items):
        self.entered.set()
        self.gate.wait(10)
        return self.runner.run_batch(items)


@pytest.fixture
def gated(engine):
    """The detector's queue (one worker) with a model that blocks until the test opens the gate."""
    gate = threading.Event()
    entered = threading.Event()
    real = engine.runner("detect")
    engine.use("detect", [_GatedRunner(real, gate, entered)])
    yield engine, gate, entered
    gate.set()
    engine.use("detect", [real] * engine.workers)


def _post(client, path, **kwargs):
    return client.post(path, files={"image": ("a.jpg", fixture_image("dog.jpg").read_bytes())}, **kwargs)


def test_full_queue_is_503_with_retry_after(gated):
    engine, gate, entered = gated
    frame = engine.decode(fixture_image("dog.jpg").read_bytes())
    running = engine.batcher("detect").submit(engine.runner("detect").prepare(frame, DetectParams()), 10)
    entered.wait(5)
    waiting = engine.batcher("detect").submit(engine.runner("detect").prepare(frame, DetectParams()), 10)
    client = TestClient(create_app(engine))
    assert client.get("/ready").status_code == 503 and client.get("/health").status_code == 200
    for path in ("/v1/vision/detection", "/v2/detect"):
        reply = _post(client, path)
        assert reply.status_code == 503 and reply.headers["Retry-After"] == "1"
        assert "queue full" in reply.json()["error"]
    assert reply.json()["type"] == "Overloaded"
    assert engine.metrics.registry.get_sample_value("vigil_rejected_total",
                                                {"task": "detect", "model": engine.config.detect.model}) == 2
    gate.set()
    running.result(10), waiting.result(10)
    assert _post(client, "/v1/vision/detection").status_code == 200


def test_slow_model_is_deepstack_500_timeout(gated):
    engine, gate, _ = gated
    client = TestClient(create_app(engine))
    reply = _post(client, "/v1/vision/detection")
    assert reply.status_code == 500
    assert reply.json()["success"] is False and reply.json()["error"].startswith("timeout")
    gate.set()
    assert _post(client, "/v1/vision/detection").status_code == 200


KEYS = [  # (api_key, admin_key, route, how the key is sent, key, status)
    ("", "", "/v1/vision/detection", None, "", 200),
    ("k", "", "/v1/vision/detection", "form", "k", 200),
    ("k", "", "/v1/vision/detection", "header", "k", 200),
    ("k", "", "/v1/vision/detection", "bearer", "k", 200),
    ("k", "", "/v1/vision/detection", "form", "K", 401),
    ("k", "", "/v1/vision/detection", None, "", 401),
    ("k", "a", "/v1/vision/detection", "header", "a", 200),  # an admin may also use
    ("k", "a", "/v1/vision/detection", "header", "b", 401),
    ("k", "a", "/v1/vision/face/delete", "form", "k", 401),
    ("k", "", "/v1/vision/face/delete", "form", "k", 200),  # DeepStack: deleting a stranger succeeds
    ("", "a", "/v1/vision/face/delete", "bearer", "a", 200),
    ("", "a", "/v1/vision/face/delete", None, "", 401),
]


@pytest.mark.parametrize(("api_key", "admin_key", "route", "how", "key", "status"), KEYS)
def test_keys(engine, api_key, admin_key, route, how, key, status, monkeypatch):
    monkeypatch.setattr(engine.config.server, "api_key", api_key)
    monkeypatch.setattr(engine.config.server, "admin_key", admin_key)
    client = TestClient(create_app(engine))
    form = {"userid": "x", **({"api_key": key} if how == "form" else {})}
    headers = {"header": {"X-API-Key": key}, "bearer": {"Authorization": f"Bearer {key}"}}.get(how, {})
    reply = _post(client, route, data=form, headers=headers)
    assert reply.status_code == status, reply.text
    if status != 200:
        assert reply.json()["success"] is False


@pytest.mark.parametrize(("host", "api_key", "allow", "error"), [
    ("127.0.0.1", "", False, None),
    ("localhost", "", False, None),
    ("::1", "", False, None),
    ("0.0.0.0", "", False, ConfigError),
    ("0.0.0.0", "", True, None),
    ("192.168.1.5", "secret", False, None),
])
def test_no_key_means_loopback_only(host, api_key, allow, error):
    config = VigilConfig(server={"host": host, "api_key": api_key, "allow_remote_without_key": allow})
    if error:
        with pytest.raises(error, match="refusing to bind"):
            check_bind(config)
    else:
        check_bind(config)


def test_a_model_that_is_not_configured_is_403(engine):
    reply = _post(TestClient(create_app(engine)), "/v2/classify")
    assert reply.status_code == 403
    error = reply.json()["error"]
    assert error.startswith("endpoint not activated") and "[recognize] person_model" in error
