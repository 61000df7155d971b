"""The folder watcher end to end: frames written into a watched folder → default models (detector, faces where a
person is) → event log → MQTT. Starts its own Mosquitto (or uses --broker HOST:PORT) and subscribes with paho.

    .venv/bin/python benchmarks/bench_watch.py [--frames 40] [--cameras 4] [--json]

Latency: one frame at a time, each on a camera of its own (so each opens an event) whose folder already exists, from
the writer closing the file to the `vigil/events` message arriving at a subscriber; p50 / p99. (A frame in a folder
created that instant, before inotify watches it, waits FRESH_SETTLE_S more: see vigil/events/watcher.py.)
Throughput: all frames written at once over --cameras cameras; frames/s until the last is processed. Baseline in
the same run: the same frames through the executor's detect (+ faces) in a loop, no watcher, log or broker.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from vigil.config.settings import VigilConfig
from vigil.events.service import EventService
from vigil.events.watcher import FRESH_WINDOW_S
from vigil.execute.local import Inline

from common import IMAGES, table

FRAMES = ["vtest_000.jpg", "vtest_120.jpg", "vtest_240.jpg", "person.jpg", "messi5.jpg", "dog.jpg", "horses.jpg",
          "vtest_360.jpg"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(folder: Path) -> tuple[subprocess.Popen, int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).is_file():
        sys.exit("mosquitto is missing: apt-get install mosquitto (or pass --broker HOST:PORT)")
    port = free_port()
    (folder / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    proc = subprocess.Popen([binary, "-c", str(folder / "m.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    sys.exit("mosquitto did not start")


class Arrivals:
    """First `vigil/events` "new" message per camera, with its arrival time."""

    def __init__(self, host: str, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.times: dict[str, float] = {}
        self.cond = threading.Condition()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="vigil-bench")
        client.on_connect = lambda c, *_: c.subscribe("vigil/events", qos=1)
        client.on_message = self._on_message
        client.connect(host, port)
        client.loop_start()
        self.client = client

    def _on_message(self, client, userdata, message) -> None:
        now = time.time()
        body = json.loads(message.payload)
        with self.cond:
            if body["type"] == "new":
                self.times.setdefault(body["camera"], now)
                self.cond.notify_all()

    def wait(self, camera: str, timeout: float = 60) -> float | None:
        with self.cond:
            self.cond.wait_for(lambda: camera in self.times, timeout)
            return self.times.get(camera)


def write(source: Path, target: Path) -> float:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as f:
        f.write(source.read_bytes())
    return time.time()  # the moment the file was closed


def latency(watch: Path, arrivals: Arrivals, frames: int) -> list[float]:
    out = []
    for i in range(frames):
        closed = write(IMAGES / FRAMES[i % len(FRAMES)], watch / f"lat{i}" / "00001-capture.jpg")
        arrived = arrivals.wait(f"lat{i}")
        if arrived is not None:
            out.append((arrived - closed) * 1000)
    return out


def throughput(service: EventService, watch: Path, frames: int, cameras: int) -> float:
    paths = []
    started = time.perf_counter()
    for i in range(frames):
        target = watch / f"cam{i % cameras}" / f"{i // cameras + 1:05d}-capture.jpg"
        write(IMAGES / FRAMES[i % len(FRAMES)], target)
        paths.append(target)
    while not all(service.log.processed(str(p), p.stat().st_mtime) for p in paths):
        time.sleep(0.02)
    return frames / (time.perf_counter() - started)


def baseline(executor: Inline, frames: int) -> float:
    started = time.perf_counter()
    for i in range(frames):
        source = IMAGES / FRAMES[i % len(FRAMES)]
        result, frame = executor.detect(source, full_size=True)
        if frame is not None and "person" in set(result.detections.data["class_name"].tolist()):
            executor.recognizer.recognize(frame)
    return frames / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--broker", default="", help="HOST:PORT of a broker to use instead of starting one")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--profile", choices=["fast", "second_look"], default=None,
                        help="[detect] profile (default: the configured default, the second look)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        proc, host, port = None, "127.0.0.1", 0
        if args.broker:
            host, port = args.broker.rsplit(":", 1)[0], int(args.broker.rsplit(":", 1)[1])
        else:
            proc, port = start_broker(root)
        watch = root / "watch"
        watch.mkdir()
        config = VigilConfig(watch={"dirs": [watch], "queue_per_camera": args.frames}, store={"data_dir": root / "d"},
                             mqtt={"host": host, "port": port, "client_id": "vigil-bench-publisher"},
                             detect={"profile": args.profile} if args.profile else {})
        executor = Inline(config).setup()  # what `vigil watch` runs on (cli/events.py)
        baseline(executor, len(FRAMES))  # warm-up: loads the face models, touches every frame
        base_fps = baseline(executor, args.frames)
        for i in range(args.frames):
            (watch / f"lat{i}").mkdir()
        # folders younger than FRESH_WINDOW_S make a file wait FRESH_SETTLE_S (the first frame of a new ZoneMinder
        # event, README "Events"); this measures the steady state, so the folders are left to age first
        time.sleep(FRESH_WINDOW_S)
        arrivals = Arrivals(host, port)
        service = EventService(config, executor).start()
        service.publisher.connected.wait(10)
        try:
            lat = latency(watch, arrivals, args.frames)
            fps = throughput(service, watch, args.frames, args.cameras)
        finally:
            service.stop()
            if proc is not None:
                proc.terminate()
    report = {"frames": args.frames, "cameras": args.cameras, "profile": config.detect.profile,
              "watch_fps": round(fps, 2), "baseline_fps": round(base_fps, 2), "ratio": round(fps / base_fps, 2),
              "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat else None,
              "latency_ms_p99": round(float(np.percentile(lat, 99)), 1) if lat else None, "latency_samples": len(lat)}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(table(["path", "frames/s", "close→MQTT p50 ms", "p99 ms"],
                [["watcher → log → MQTT", report["watch_fps"], report["latency_ms_p50"], report["latency_ms_p99"]],
                 ["executor loop (baseline)", report["baseline_fps"], "-", "-"]]))
    print(f"watcher / baseline: {report['ratio']:.2f}x")


if __name__ == "__main__":
    main()
