"""A real `vigil serve` with its gallery and event log on PostgreSQL and a watched folder (issue 20): a file name
that is not UTF-8 (item 1), NUL characters bound for PostgreSQL (item 11), zerorpc bad input in the log (item 15),
and two schema leftovers. Each test checks afterwards that the server still answers."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import requests
import zerorpc

from tests.conftest import fixture_image
from tests.faces.test_gallery_postgres import url
from tests.serve import server as harness
from tests.serve.server import ADMIN_KEY, API_KEY

pytestmark = pytest.mark.integration
USER, ADMIN = {"X-API-Key": API_KEY}, {"X-API-Key": ADMIN_KEY}
NOT_UTF8 = b"\xe9t\xe9.jpg"


database = pytest.fixture(scope="module", name="database")(url.__wrapped__)  # one fresh schema for the module


def _start(root: Path, watched: Path, database: str) -> harness.Server:
    extra = f'[watch]\ndirs = ["{watched}"]\nfaces = false\n[events]\ndatabase = "{database}"\n' \
            f'[faces]\ngallery = "{database}"\n'
    return harness.start(root, extra=extra)


@pytest.fixture(scope="module")
def server(tmp_path_factory, store, face_models, database, watched):
    running = _start(tmp_path_factory.mktemp("serve"), watched, database)
    yield running
    assert running.stop() == 0, running.log_tail()


def _drop(folder: Path, name: str | bytes) -> None:
    shutil.copyfile(fixture_image("person.jpg"), os.path.join(os.fsencode(folder), os.fsencode(name)))


def _events(server, source: str, camera: str = "cam", timeout: float = 60.0) -> list[dict]:
    """The camera's events, once one of them comes from the file `source`."""
    deadline = time.monotonic() + timeout
    while True:
        reply = requests.get(f"{server.url}/v2/events", params={"camera": camera}, headers=USER, timeout=10)
        assert reply.status_code == 200, reply.text
        if any(e["source"].endswith(source) for e in reply.json()):
            return reply.json()
        assert time.monotonic() < deadline, f"no event on {camera}:\n{server.log_tail()}"
        time.sleep(0.2)


def _answers(server) -> None:
    assert requests.get(f"{server.url}/ready", timeout=10).status_code == 200, server.log_tail()
    assert requests.post(f"{server.url}/v1/vision/face/list", data={"api_key": API_KEY}, timeout=10).ok


def test_nul_characters_for_postgresql_are_bad_input(server):
    for params in ({"camera": "a\x00b"}, {"label": "\x00"}, {"name": "x\x00"}):
        reply = requests.get(f"{server.url}/v2/events", params=params, headers=USER, timeout=10)
        assert reply.status_code == 400 and "NUL" in reply.text, reply.text
    reply = requests.post(f"{server.url}/v1/vision/face/delete", data={"userid": "a\x00b", "api_key": ADMIN_KEY},
                          timeout=10)
    assert reply.status_code == 400 and reply.json()["success"] is False, reply.text
    _answers(server)


def test_schema_leftovers_min_score_false_and_an_empty_until(server):
    paths = {"paths": [server.client_paths()[0]]}
    for bad in (False, True, "0.5"):
        reply = requests.post(f"{server.url}/v2/detect/paths", json={**paths, "min_score": bad}, headers=USER,
                              timeout=30)
        assert reply.status_code == 422, (bad, reply.text)
    assert requests.post(f"{server.url}/v2/detect/paths", json={**paths, "min_score": 1}, headers=USER,
                         timeout=30).status_code == 200
    for params in ({"until": ""}, {"since": ""}):
        reply = requests.get(f"{server.url}/v2/events", params=params, headers=USER, timeout=10)
        assert reply.status_code == 400, reply.text
    _answers(server)


def test_rpc_bad_input_gives_one_json_log_line_per_call(server):
    client = zerorpc.Client(heartbeat=5, timeout=30)
    client.connect(server.faces)
    before = len(server.log.read_bytes().splitlines())
    try:
        for _ in range(10):
            with pytest.raises(zerorpc.RemoteError) as error:
                client.detect_faces("not json")
            assert error.value.name == "BadInput" and "detect_faces takes" in error.value.msg
    finally:
        client.close()
    time.sleep(0.5)
    lines = server.log.read_bytes().splitlines()[before:]
    parsed = [json.loads(line) for line in lines]  # every line JSON: no gevent traceback
    calls = [p for p in parsed if p.get("method") == "detect_faces"]
    assert len(calls) == 10 and all(p["status"] == "BadInput" for p in calls), lines
    assert len(parsed) == 10, lines
    _answers(server)


def test_a_name_that_is_not_utf8_does_not_stop_the_watcher_nor_the_next_start(server, watched, database,
                                                                                  tmp_path):
    _drop(watched / "cam", NOT_UTF8)
    time.sleep(0.5)
    _drop(watched / "cam", "00002-capture.jpg")
    assert _events(server, "00002-capture.jpg")[0]["camera"] == "cam"
    _answers(server)  # /ready: the watcher is alive
    assert server.stop() == 0, server.log_tail()

    time.sleep(0.01)
    _drop(watched / "cam", NOT_UTF8)  # the newest file when the next server starts: its catch-up scan meets it
    os.utime(os.path.join(os.fsencode(watched / "cam"), NOT_UTF8))
    again = _start(tmp_path / "again", watched, database)
    try:
        _drop(watched / "cam", "00003-capture.jpg")
        assert _events(again, "00003-capture.jpg")[0]["camera"] == "cam"
        _answers(again)
        assert "not UTF-8" in again.log.read_text(errors="replace")
    finally:
        assert again.stop() == 0, again.log_tail()
