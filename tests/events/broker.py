"""A real Mosquitto broker for the tests, on a free port with its own persistence folder, and a real paho subscriber
that records every message (retained ones included)."""

from __future__ import annotations

import getpass
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

INSTALL = "the MQTT tests need the mosquitto broker: apt-get install mosquitto"


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
                                               if Path(p).is_file()), None)
    if found is None:
        pytest.fail(INSTALL, pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """`mosquitto -c <conf>`; persistence on, so a subscriber's session and queued QoS 1 messages survive a restart
    (how a real deployment keeps what arrives while a client is away)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.conf = folder / "mosquitto.conf"
        # started as root, mosquitto would switch to the "mosquitto" user, who cannot write the persistence file here
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                             f"persistence_location {folder}/\nautosave_interval 1\nuser {getpass.getuser()}\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> Broker:
        log = open(self.folder / "mosquitto.log", "ab")  # noqa: SIM115 - the broker keeps it open
        self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(self.conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    log_text = (self.folder / "mosquitto.log").read_text()[-2000:]
                    raise RuntimeError(f"mosquitto exited: {log_text}") from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen within 10 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool


@dataclass
class Subscriber:
    """A paho client subscribed to everything, persistent session (clean_session off), QoS 1."""

    port: int
    client_id: str = "vigil-test-subscriber"
    messages: list[Received] = field(default_factory=list)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> Subscriber:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False)
        client.on_connect = lambda c, *_: c.subscribe("#", qos=1)
        client.on_message = self._on_message
        client.reconnect_delay_set(0.1, 0.5)
        client.connect("127.0.0.1", self.port, keepalive=10)
        client.loop_start()
        self.client = client
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append(Received(message.topic, bytes(message.payload), bool(message.retain)))
            self._lock.notify_all()

    def wait_for(self, topic: str, predicate=lambda m: True, timeout: float = 30.0) -> Received:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = next((m for m in self.messages if m.topic == topic and predicate(m)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({m.topic for m in self.messages})
                    raise AssertionError(f"no message on {topic} within {timeout} s; topics seen: {seen}")
                self._lock.wait(left)

    def on(self, topic: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]


def retained(port: int, topic: str, timeout: float = 10.0) -> Received:
    """What a client subscribing now gets on `topic`: the broker's retained message (retain flag set)."""
    import paho.mqtt.client as mqtt

    got: list[Received] = []
    ready = threading.Event()

    def on_message(client, userdata, message) -> None:
        got.append(Received(message.topic, bytes(message.payload), bool(message.retain)))
        ready.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"vigil-test-retained-{time.monotonic_ns()}")
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_message = on_message
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    try:
        if not ready.wait(timeout):
            raise AssertionError(f"no retained message on {topic}")
        return got[0]
    finally:
        client.disconnect()
        client.loop_stop()
