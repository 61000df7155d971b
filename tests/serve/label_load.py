"""Face-labelling load against a running server (issue 20, item 5), for tests/serve/test_hardening4.py and
benchmarks/bench_label_fair.py: zerorpc `detect_faces` callers (gevent, in a subprocess of their own) and HTTP
`/v2/faces/label` callers (threads), each call `entries` entries of `labels` full-frame person labels, while
`/v1/vision/face` is timed."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import requests

from tests.conftest import fixture_image
from tests.serve.server import FRAMES

IMAGE = "messi5.jpg"  # a face in every full-frame crop: each label costs a face detection and an embedding
FULL_FRAME = {"xmin": 0, "ymin": 0, "xmax": 548, "ymax": 342}  # messi5.jpg's size

RPC_CALLERS = """
import json, sys
import gevent, zerorpc
endpoint, entry, n, entries = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def call():
    client = zerorpc.Client(heartbeat=5, timeout=300)
    client.connect(endpoint)
    try:
        client.detect_faces([entry] * entries)
        return "ok"
    except zerorpc.RemoteError as exc:
        return exc.name
    finally:
        client.close()

jobs = [gevent.spawn(call) for _ in range(n)]
gevent.joinall(jobs)
print(json.dumps([j.value for j in jobs]), flush=True)
"""


def entry(path: str, labels: int) -> dict:
    return {"image": path, "labels": [{"id": i, "name": "person", "score": 0.9, "box": FULL_FRAME}
                                      for i in range(labels)]}


class Load:
    def __init__(self, server, key: dict, rpc: int = 8, http: int = 4, entries: int = 256, labels: int = 64
                 ) -> None:
        self.server, self.key = server, key
        path = server.client_paths()[FRAMES.index(IMAGE)]
        self.entry, self.rpc, self.http, self.entries = entry(path, labels), rpc, http, entries
        self.http_statuses: list[int] = []
        self._threads: list[threading.Thread] = []
        self._proc: subprocess.Popen | None = None

    def start(self) -> Load:
        if self.rpc:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", RPC_CALLERS, self.server.faces, json.dumps(self.entry), str(self.rpc),
                 str(self.entries)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        body = [self.entry] * self.entries
        for _ in range(self.http):
            thread = threading.Thread(target=self._label, args=(body,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _label(self, body: list) -> None:
        reply = requests.post(f"{self.server.url}/v2/faces/label", headers=self.key, json=body, timeout=300)
        self.http_statuses.append(reply.status_code)

    def finish(self, timeout_s: float = 120) -> list[str]:
        """Wait for every call; the zerorpc callers' outcomes ("ok" or the error's name)."""
        for thread in self._threads:
            thread.join(timeout_s)
        if self._proc is None:
            return []
        out, err = self._proc.communicate(timeout=timeout_s)
        assert self._proc.returncode == 0, err
        return json.loads(out)


def face_seconds(server, key: dict) -> tuple[int, float]:
    """One `/v1/vision/face` call: its status and how long it took."""
    data = fixture_image(IMAGE).read_bytes()
    started = time.perf_counter()
    reply = requests.post(f"{server.url}/v1/vision/face", headers=key, files={"image": data}, timeout=60)
    return reply.status_code, time.perf_counter() - started
