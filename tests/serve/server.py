"""Start the real `vigil serve` in a subprocess on 127.0.0.1 with a throwaway config and media tree.

The media tree looks like a ZoneMinder disk mounted elsewhere: clients send `/nvr/zoneminder/events/<monitor>/...`
paths, as the seed's uploader did, and `[rpc] mount_point` maps them into the temporary folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.conftest import fixture_image

API_KEY = "use-key-0123"
ADMIN_KEY = "admin-key-4567"
EVENTS = "/nvr/zoneminder/events"
FRAMES = ["vtest_000.jpg", "vtest_060.jpg", "vtest_120.jpg", "vtest_180.jpg", "vtest_240.jpg", "vtest_300.jpg",
          "vtest_360.jpg", "person.jpg", "dog.jpg", "messi5.jpg"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    root: Path
    port: int
    objects: str
    faces: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client_paths(self, monitor: str = "Front") -> list[str]:
        """Seed-style client paths of the ten frames, in order."""
        return [f"{EVENTS}/{monitor}/{i + 1:05d}-capture.jpg" for i in range(len(FRAMES))]

    def local(self, client_path: str) -> Path:
        return self.root / "mnt" / client_path.lstrip("/")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30) -> int:
        if self.alive():
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def log_tail(self, n: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def make_media(root: Path) -> None:
    """Ten frames of monitor Front as the seed uploader would name them, a file outside the media root, and a
    symlink inside it that points out (the escape the server must refuse)."""
    events = root / "mnt" / EVENTS.lstrip("/")
    front = events / "Front"
    front.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(FRAMES):
        shutil.copyfile(fixture_image(name), front / f"{i + 1:05d}-capture.jpg")
    outside = root / "outside"
    outside.mkdir(exist_ok=True)
    shutil.copyfile(fixture_image("dog.jpg"), outside / "secret.jpg")
    (front / "00099-capture.jpg").symlink_to(outside / "secret.jpg")


def start(root: Path, extra: str = "", keys: bool = True, timeout_s: float = 90, request_timeout_s: float = 20
          ) -> Server:
    make_media(root)
    port = free_port()
    objects = f"tcp://127.0.0.1:{free_port()}"
    faces = f"ipc://{root / 'faces.sock'}"  # one endpoint of each kind, as the seed configs had
    config = root / "vigil.toml"
    config.write_text(f"""
[server]
host = "127.0.0.1"
port = {port}
api_key = "{API_KEY if keys else ''}"
admin_key = "{ADMIN_KEY if keys else ''}"
request_timeout_s = {request_timeout_s}
{extra}
[rpc]
objects = "{objects}"
faces = "{faces}"
heartbeat_s = 5
mount_point = "mnt"
[media]
roots = ["mnt{EVENTS}"]
[store]
data_dir = "data"
""")
    log = root / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "vigil.cli", "serve", "--config", str(config)],
                                stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=root)
    server = Server(proc, root, port, objects, faces, log)
    _wait_healthy(server, timeout_s)
    return server


def _wait_healthy(server: Server, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"vigil serve exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            if requests.get(f"{server.url}/health", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"vigil serve not healthy within {timeout_s} s:\n{server.log_tail()}")
