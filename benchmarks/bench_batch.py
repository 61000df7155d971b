"""`vigil batch` throughput: images/s for a plain loop, the in-process pool and Ray Data on this machine.

    .venv/bin/python benchmarks/bench_batch.py [--images 400]

The archive is the shared test frames copied under distinct names (a ZoneMinder-like folder tree). Each
runner processes the whole folder into a fresh JSONL file. Two rates: over the whole run (starting workers and
loading their models included, not starting Ray itself: a cluster is already up) and steady (from the first
results on), the one the targets are about.
Targets (issue 15): Ray ≥ 1.7× the plain loop, and within 10% of the pool. The per-node figure is the pool's:
a cluster multiplies it by its nodes. The plain loop runs inference on every core (onnxruntime's threads), as
`vigil detect` does; the one-thread loop is the per-core figure the pool and Ray multiply.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from vigil.batch.runner import run_batch
from vigil.config.settings import VigilConfig

from common import IMAGES, table


def archive(folder: Path, count: int) -> Path:
    frames = sorted(IMAGES.glob("*.jpg"))
    for i in range(count):
        day = folder / f"event-{i // 50:03d}"
        day.mkdir(parents=True, exist_ok=True)
        shutil.copy(frames[i % len(frames)], day / f"{i:05d}.jpg")
    return folder


def measure(folder: Path, out: Path, config: VigilConfig | None = None, **runner: object) -> tuple[float, float]:
    """(images/s over the whole run, images/s once the first results arrived: workers up, models loaded)."""
    arrivals: list[tuple[float, int]] = []

    def progress(total: int, done: int):
        return lambda n: arrivals.append((time.perf_counter(), n))

    started = time.perf_counter()
    report = run_batch([folder], out, config or VigilConfig(), progress=progress, **runner)
    seconds = time.perf_counter() - started
    assert report.processed == report.images and report.errors == 0, report
    steady = sum(n for _, n in arrivals[1:]) / max(arrivals[-1][0] - arrivals[0][0], 1e-9)
    return report.images / seconds, steady


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = archive(Path(tmp) / "archive", args.images)
        rows = [["plain loop", 1, *measure(folder, Path(tmp) / "loop.jsonl", workers=1)]]
        one_thread = VigilConfig(detect={"threads": 1})
        rows.append(["plain loop, 1 thread", 1, *measure(folder, Path(tmp) / "loop1.jsonl", one_thread, workers=1)])
        rows.append(["process pool", cores, *measure(folder, Path(tmp) / "pool.jsonl", workers=cores)])
        if not args.skip_ray:
            import ray

            ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
            from vigil.batch.on_ray import ray_runner

            rows.append(["Ray Data", cores, *measure(folder, Path(tmp) / "ray.jsonl", remote=ray_runner("auto"))])
            ray.shutdown()
    loop, per_core = rows[0][3], rows[1][3]
    print(f"{args.images} images, {cores} cores")
    print(table(["runner", "workers", "images/s (whole run)", "images/s (steady)", "steady × loop",
                 "steady × 1-thread loop"], [[*r, r[3] / loop, r[3] / per_core] for r in rows]))


if __name__ == "__main__":
    main()
