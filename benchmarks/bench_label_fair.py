"""`/v1/vision/face` latency while face labelling floods the server (issue 20, item 5): alone, then while 8 zerorpc
`detect_faces` calls and 4 `/v2/faces/label` calls, each 256 entries × 64 full-frame person labels, run until their
deadline. Starts its own `vigil serve` (tests/serve/server.py) with the code on PYTHONPATH, so the same script measures
an older tree too:

    PYTHONPATH=src .venv/bin/python benchmarks/bench_label_fair.py [--timeout 20]
    git archive <old commit> src | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before/src .venv/bin/python benchmarks/bench_label_fair.py

Prints one JSON document: the lone p50, and during the load every face request's status and seconds (p50, max), with
their ratio to the lone p50 measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.serve import server as harness
from tests.serve.label_load import Load, face_seconds
from tests.serve.server import API_KEY

KEY = {"X-API-Key": API_KEY}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=20.0, help="the server's request_timeout_s")
    parser.add_argument("--rpc", type=int, default=8)
    parser.add_argument("--http", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        served = harness.start(Path(root), request_timeout_s=args.timeout)
        try:
            print(json.dumps(measure(served, args), indent=1))
        finally:
            served.stop()


def measure(served, args: argparse.Namespace) -> dict:
    face_seconds(served, KEY)  # warm
    alone = statistics.median(face_seconds(served, KEY)[1] for _ in range(7))
    load = Load(served, KEY, rpc=args.rpc, http=args.http).start()
    started = time.monotonic()
    during = []
    while (at := time.monotonic() - started) < args.timeout:
        status, seconds = face_seconds(served, KEY)
        during.append((round(at, 2), status, round(seconds, 3)))  # when it was sent, its status, its seconds
    outcomes = load.finish(timeout_s=args.timeout * 4)
    times = [s for _, _, s in during]
    settled = [s for at, _, s in during if at >= 3.0]  # after every labelling call has arrived and been parsed
    return {"alone_p50_s": round(alone, 3), "during": during, "during_p50_s": round(statistics.median(times), 3),
            "during_max_s": max(times), "settled_max_s": max(settled) if settled else None,
            "p50_ratio": round(statistics.median(times) / alone, 2), "statuses": sorted({s for _, s, _ in during}),
            "rpc_outcomes": outcomes, "http_statuses": load.http_statuses}


if __name__ == "__main__":
    main()
