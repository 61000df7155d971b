"""SIGTERM: a request in flight when the signal arrives still gets its answer, and the process exits 0."""

from __future__ import annotations

import signal
import socket
import time

import pytest

from tests.conftest import fixture_image
from tests.serve import server as harness

pytestmark = pytest.mark.integration


def test_sigterm_lets_the_request_in_flight_finish(tmp_path):
    running = harness.start(tmp_path, keys=False)
    try:
        image = fixture_image("vtest_000.jpg").read_bytes()
        body = (b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n" + image
                + b"\r\n--b--\r\n")
        head = (f"POST /v1/vision/detection HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", running.port), timeout=20) as sock:
            sock.sendall(head + body[:1000])
            time.sleep(0.3)
            running.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert running.alive(), "the server must wait for the request in flight"
            sock.sendall(body[1000:])
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200") and b'"success":true' in reply and b"person" in reply
        assert running.proc.wait(30) == 0
        log = running.log.read_text()
        assert '"msg": "zerorpc stopped"' in log and '"msg": "stopped"' in log
    finally:
        running.stop(signal.SIGKILL)
