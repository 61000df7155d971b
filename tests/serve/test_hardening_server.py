"""Abuse against a real `vigil serve`: oversized calls refused at once, keyless clients turned away before their body,
slow bodies cut off, odd entries failing only themselves, and /health answering after each."""

from __future__ import annotations

import json
import socket

import pytest
import requests
import zerorpc

from tests.conftest import fixture_image
from tests.serve import server as harness
from tests.serve.server import ADMIN_KEY, API_KEY

pytestmark = pytest.mark.integration
KEY = {"X-API-Key": API_KEY}
LIMITS = """body_timeout_s = 2
[limits]
max_entries = 4
max_labels = 8
max_paths = 20
"""


@pytest.fixture(scope="module")
def hard(tmp_path_factory, store, face_models):
    running = harness.start(tmp_path_factory.mktemp("hard"), extra=LIMITS)
    yield running
    assert running.stop() == 0, running.log_tail()


def _healthy(server) -> None:
    assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
    with fixture_image("messi5.jpg").open("rb") as image:
        reply = requests.post(f"{server.url}/v1/vision/face", headers=KEY, files={"image": image}, timeout=8)
    assert reply.status_code == 200 and reply.json()["success"] is True


def _person(image: str, n: int) -> dict:
    box = {"xmin": 10, "ymin": 10, "xmax": 200, "ymax": 300}
    return {"image": image, "labels": [{"id": 0, "name": "person", "score": 0.9, "box": box}] * n}


def _rpc(endpoint: str) -> zerorpc.Client:
    client = zerorpc.Client(heartbeat=5, timeout=30)
    client.connect(endpoint)
    return client


def test_face_label_calls_over_the_caps_are_refused_not_truncated(hard):
    path = hard.client_paths()[7]
    client = _rpc(hard.faces)
    try:
        with pytest.raises(zerorpc.RemoteError) as caught:
            client.detect_faces([_person(path, 1)] * 5)
        assert caught.value.name == "BadInput" and "over the limit of 4" in caught.value.msg
        entries = json.loads(client.detect_faces([_person(path, 9), _person(path, 1)]))
    finally:
        client.close()
    assert "over the limit of 8" in entries[0]["error"] and "error" not in entries[1]
    reply = requests.post(f"{hard.url}/v2/faces/label", headers=KEY, json=[_person(path, 1)] * 5, timeout=10)
    assert reply.status_code == 400 and "max_entries" in reply.json()["error"]
    _healthy(hard)


def test_one_bad_entry_fails_only_itself(hard):
    path = hard.client_paths()[7]
    bad = _person(path, 1)
    bad["labels"] = [{**bad["labels"][0], "id": 1e999}]
    reply = requests.post(f"{hard.url}/v2/faces/label", headers={**KEY, "Content-Type": "application/json"},
                          data=json.dumps([bad, _person(path, 1)]), timeout=30)
    assert reply.status_code == 200, reply.text
    first, second = reply.json()
    assert "malformed label" in first["error"] and "error" not in second
    _healthy(hard)


def test_too_many_paths_are_refused_at_once(hard):
    client = _rpc(hard.objects)
    try:
        with pytest.raises(zerorpc.RemoteError) as caught:
            client.detect_objects(["/nvr/x.jpg"] * 100_000)
        assert "max_paths" in caught.value.msg
    finally:
        client.close()
    reply = requests.post(f"{hard.url}/v2/detect/paths", headers=KEY, json={"paths": ["/x.jpg"] * 21}, timeout=10)
    assert reply.status_code == 400
    _healthy(hard)


def _raw(server, head: str, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(head.encode() + b"\r\n" + body)
    return sock


def _status(sock: socket.socket) -> int:
    return int(sock.recv(4096).split(b" ", 2)[1])


def test_45_mb_keyless_upload_is_refused_after_its_first_part(hard):
    boundary = "xyz"
    first = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
             "Content-Type: image/jpeg\r\n\r\n").encode() + b"\xff" * 60_000
    size = 45 * 1024 * 1024
    for extra in ("", "X-API-Key: wrong\r\n"):
        sock = _raw(hard, f"POST /v1/vision/detection HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {size}\r\n"
                          f"Content-Type: multipart/form-data; boundary={boundary}\r\n", first)
        with sock:
            assert _status(sock) == 401  # answered with 45 MB still unsent
    _healthy(hard)


def test_slow_and_keyless_bodies_hold_no_slot_and_are_cut_off(hard):
    socks = [_raw(hard, "POST /v2/detect HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                        "Content-Type: multipart/form-data; boundary=b\r\n", b"--b\r\n") for _ in range(40)]
    slow = _raw(hard, f"POST /v2/detect HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nContent-Length: 100000\r\n"
                      "Content-Type: multipart/form-data; boundary=b\r\n", b"--b\r\n")
    _healthy(hard)
    try:
        assert _status(slow) == 408  # body_timeout_s = 2
        assert {_status(s) for s in socks[:3]} == {408}
    finally:
        for s in [*socks, slow]:
            s.close()
    _healthy(hard)


def test_deepstack_form_key_still_works_and_docs_need_a_key(hard):
    with fixture_image("dog.jpg").open("rb") as image:
        reply = requests.post(f"{hard.url}/v1/vision/detection", data={"api_key": API_KEY}, files={"image": image},
                              timeout=30)
    assert reply.status_code == 200 and reply.json()["success"] is True
    listed = requests.post(f"{hard.url}/v1/vision/face/list", data={"api_key": ADMIN_KEY}, timeout=10)
    assert listed.status_code == 200
    for path in ("/docs", "/openapi.json", "/metrics"):
        assert requests.get(f"{hard.url}{path}", timeout=10).status_code == 401
        assert requests.get(f"{hard.url}{path}", headers=KEY, timeout=10).status_code == 200
    _healthy(hard)


def test_a_non_loopback_zerorpc_endpoint_needs_an_explicit_opt_in():
    from vigil.errors import ConfigError
    from vigil.seed.rpc import check_endpoint

    with pytest.raises(ConfigError, match="allow_remote"):
        check_endpoint("tcp://0.0.0.0:4242", allow_remote=False)
    check_endpoint("tcp://0.0.0.0:4242", allow_remote=True)
    check_endpoint("tcp://127.0.0.1:4242", allow_remote=False)
    check_endpoint("ipc:///run/vigil/faces.sock", allow_remote=False)


WRONG_BODIES = [  # (method, path, request kwargs) that once answered 500
    ("PATCH", "/v2/gallery/somebody", {"data": "name=x", "headers": {"Content-Type": "text/plain"}}),
    ("POST", "/v2/detect/paths", {"data": "paths", "headers": {"Content-Type": "text/plain"}}),
    ("POST", "/v2/faces/label", {"data": "[]", "headers": {"Content-Type": "text/plain"}}),
    ("POST", "/v2/classify", {"data": {"image": "not a file"}}),
    ("POST", "/v2/gallery/\u00ff", {"files": {"images": ("a.jpg", b"\xff\xd8 not really")}}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), WRONG_BODIES, ids=[f"{m} {p}" for m, p, _ in WRONG_BODIES])
def test_wrong_bodies_get_4xx_with_the_usual_error_body(hard, method, path, kwargs):
    headers = {"X-API-Key": ADMIN_KEY, **kwargs.pop("headers", {})}
    reply = requests.request(method, f"{hard.url}{path}", headers=headers, timeout=30, **kwargs)
    assert reply.status_code in (400, 404, 415, 422), reply.text
    assert "Error" not in reply.text.replace("error", "")  # no exception class names
    _healthy(hard)
