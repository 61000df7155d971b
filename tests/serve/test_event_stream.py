"""/v2/events/stream in-process: it ends by itself after `seconds` (at most [events] stream_s), the body timeout
does not cut it (that timer covers the request body only), and the time filters take every declared form."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from vigil.config.settings import VigilConfig
from vigil.execute.local import Engine
from vigil.serve.app import create_app


@pytest.fixture(scope="module")
def client(store, tmp_path_factory):
    config = VigilConfig(server={"body_timeout_s": 0.3}, events={"stream_s": 5.0},
                         store={"data_dir": tmp_path_factory.mktemp("data")})
    engine = Engine(config)
    yield TestClient(create_app(engine))
    engine.close()


def test_stream_ends_after_its_seconds_and_outlives_the_body_timeout(client):
    started = time.monotonic()
    with client.stream("GET", "/v2/events/stream", params={"seconds": 1.0}) as reply:
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
        text = "".join(reply.iter_text())
    assert text.startswith(": connected") and time.monotonic() - started >= 0.9


def test_stream_longer_than_the_configured_most_is_refused(client):
    assert client.get("/v2/events/stream", params={"seconds": 6}).status_code == 422


@pytest.mark.parametrize("when", ["1700000000", "-5.5", "30m", "2.5h", "7d", "2026-01-31T12:00:00Z",
                                  "2024-02-29T23:59:59.5+05:30"])
def test_every_declared_time_form_is_accepted(client, when):
    assert client.get("/v2/events", params={"since": when, "until": when}).status_code == 200
