"""Load on `vigil serve` over loopback: throughput, p50/p99 latency and errors at 1, 4 and 16 concurrent clients,
then a soak reporting the server's resident memory at its start and end.

    .venv/bin/python benchmarks/bench_serve.py [--requests 240] [--max-seconds 60] [--soak 10000] [--max-batch 4]
    .venv/bin/python benchmarks/bench_serve.py --route faces --clients 1,16 --soak 0 --no-baseline

`--route faces` posts face photos to /v1/vision/face/recognize instead (README target on 2 cores: 16 clients ≥ 1.6×
one client, 0 errors; the server records no strangers, so the gallery's writes do not enter the figure).

Starts its own server (127.0.0.1, a free port, zerorpc off) unless --url is given, then a baseline server (one model
run at a time using every core, no batching: what a plain wrapper around the detector does) for comparison. Each
client is a thread with a keep-alive connection posting the seven vtest frames in turn to /v1/vision/detection, as a
DeepStack client would. Every level is bounded by a request count and a time limit. Ratios: against the 1-client row
of the same server, and against the baseline server at the same concurrency.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests

from common import IMAGES, table

ROUTES = {"detection": ("/v1/vision/detection", sorted(IMAGES.glob("vtest_*.jpg"))),
          "faces": ("/v1/vision/face/recognize", [IMAGES / n for n in ("messi5.jpg", "person.jpg")])}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, max_batch: int, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = folder / "vigil.toml"
    config.write_text(f"[server]\nport = {port}\nmax_batch = {max_batch}\nworkers = {workers}\n"
                      "log_format = \"json\"\n[rpc]\nenabled = false\n"
                      f"[detect]\nthreads = {threads}\n[faces]\nthreads = {threads}\nrecord_strangers = false\n"
                      "[store]\ndata_dir = \"data\"\n")
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "vigil.cli", "serve", "--config", str(config)], stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited {proc.returncode}; see {folder / 'server.log'}")
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not become healthy")


def _spin(seconds: float, out: multiprocessing.Queue) -> None:
    count, stop = 0, time.perf_counter() + seconds
    while time.perf_counter() < stop:  # pure Python: one core per process, nothing shared
        sum(range(1000))
        count += 1
    out.put(count)


def free_cores(seconds: float = 1.0) -> float:
    """How much more work two processes get done than one, right now: near 2 on an idle 2-core machine, near 1
    when other jobs hold a core. The concurrency ratios below cannot exceed what this allows."""
    done = []
    for n in (1, 2):
        out: multiprocessing.Queue = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=_spin, args=(seconds, out)) for _ in range(n)]
        for proc in procs:
            proc.start()
        counts = [out.get() for _ in procs]
        for proc in procs:
            proc.join()
        done.append(sum(counts))
    return done[1] / done[0]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def multipart(image: bytes) -> tuple[bytes, str]:
    """A DeepStack request body, encoded once so the load generator spends little CPU per request."""
    boundary = "vigilbench"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"f.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def load(url: str, clients: int, total: int, max_seconds: float, route: str = "detection") -> dict:
    """`clients` threads share `total` requests; stops early at `max_seconds`."""
    path, frames = ROUTES[route]
    bodies = [multipart(p.read_bytes()) for p in frames if p.is_file()]
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))
    stop_at = time.monotonic() + max_seconds

    def client() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection(host, int(port), timeout=30)  # keep-alive, one per client
        for i in counter:
            if time.monotonic() > stop_at:
                break
            body, content_type = bodies[i % len(bodies)]
            started = time.perf_counter()
            try:
                conn.request("POST", path, body, {"Content-Type": content_type})
                reply = conn.getresponse()
                ok = reply.status == 200 and b'"success":true' in reply.read()
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {"clients": clients, "requests": len(latencies), "seconds": seconds, "rps": len(latencies) / seconds,
            "p50": statistics.median(latencies), "p99": float(np.percentile(latencies, 99)), "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an already running server (default: start one)")
    parser.add_argument("--requests", type=int, default=240, help="requests per concurrency level")
    parser.add_argument("--max-seconds", type=float, default=60, help="time limit per level")
    parser.add_argument("--clients", default="1,4,16", help="concurrency levels")
    parser.add_argument("--route", choices=sorted(ROUTES), default="detection",
                        help="detection: vtest frames to /v1/vision/detection; faces: face photos to "
                             "/v1/vision/face/recognize")
    parser.add_argument("--soak", type=int, default=10000, help="soak requests (0: no soak)")
    parser.add_argument("--soak-clients", type=int, default=8)
    parser.add_argument("--max-batch", type=int, default=4, help="[server] max_batch of the started server")
    parser.add_argument("--workers", type=int, default=0, help="[server] workers of the started server (0: cores)")
    parser.add_argument("--threads", type=int, default=0, help="[detect] threads of the started server (0: cores)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the baseline server: one model run at a time on all cores, no batching")
    args = parser.parse_args()
    if args.url:
        levels(args, args.url, "the server at " + args.url)
        return
    ours = served(args, args.max_batch, args.workers, args.threads, soak_too=True)
    if not args.no_baseline:
        base = served(args, 1, 1, 0, soak_too=False)
        ratios = [f"{o['clients']} clients {o['rps'] / b['rps']:.2f}×" for o, b in zip(ours, base, strict=True)]
        print("\nthroughput ÷ baseline (max_batch=1, workers=1, threads=cores): " + ", ".join(ratios))


def served(args: argparse.Namespace, max_batch: int, workers: int, threads: int, soak_too: bool) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder:
        proc, url = start_server(Path(folder), max_batch, workers, threads)
        try:
            rows = levels(args, url, f"max_batch={max_batch}, workers={workers}, threads={threads}")
            if soak_too and args.soak and args.route == "detection":
                soak(url, proc.pid, args.soak, args.soak_clients)
            return rows
        finally:
            proc.send_signal(signal.SIGTERM)
            print(f"server exit status after SIGTERM: {proc.wait(60)}")


def levels(args: argparse.Namespace, url: str, what: str) -> list[dict]:
    load(url, 1, 10, 30, args.route)  # warm-up: first requests pay for thread pools and allocator growth
    rows = []
    for clients in args.clients.split(","):
        spare = free_cores(0.5)  # measured just before, as other jobs come and go
        rows.append({**load(url, int(clients), args.requests, args.max_seconds, args.route), "spare": spare})
    base = rows[0]["rps"]
    path, frames = ROUTES[args.route]
    print(f"\nvigil serve, {path}, {', '.join(p.name for p in frames[:3])}…, {what}, {os.cpu_count()} cores "
          "(cpu ×2: work 2 processes got done vs 1 just before the level; ~2 idle machine, ~1 one core taken)\n")
    print(table(["clients", "requests", "seconds", "req/s", "p50 ms", "p99 ms", "errors", "× 1 client", "cpu ×2"],
                [[r["clients"], r["requests"], r["seconds"], r["rps"], r["p50"], r["p99"], r["errors"],
                  r["rps"] / base, r["spare"]] for r in rows]))
    return rows


def soak(url: str, pid: int, total: int, clients: int, steps: int = 10) -> None:
    """`total` requests in `steps` chunks, sampling the server's RSS after each: flat means it stops growing."""
    rss = [rss_mb(pid)]
    chunks = []
    for _ in range(steps):
        chunks.append(load(url, clients, total // steps, 3600))
        rss.append(rss_mb(pid))
    done = sum(c["requests"] for c in chunks)
    seconds = sum(c["seconds"] for c in chunks)
    print(f"\nsoak: {done} requests, {clients} clients, {seconds:.0f} s, {done / seconds:.1f} req/s, "
          f"worst chunk p99 {max(c['p99'] for c in chunks):.0f} ms, errors {sum(c['errors'] for c in chunks)}")
    print(f"server RSS (MB) at start and after each {total // steps}: " + " ".join(f"{r:.0f}" for r in rss))
    print(f"RSS growth: first half {rss[steps // 2] - rss[0]:+.0f} MB, second half {rss[-1] - rss[steps // 2]:+.0f} MB")


if __name__ == "__main__":
    main()
