"""Crowd counting: MAE/MSE on a held-out synthetic set across densities, counts on the real vtest frames against
the hand counts, and ms per 1080p frame, for each estimator: detector, tiled detector, density model,
classify-then-count (level classifier routing between density model and detector).

    PYTHONPATH=src python benchmarks/bench_crowd.py             # trains a synthetic density model + level classifier
    PYTHONPATH=src python benchmarks/bench_crowd.py --quick     # a short smoke run
    PYTHONPATH=src python benchmarks/bench_crowd.py --density-run RUN --level DIR   # your own trained models

The density model and level classifier trained here see only synthetic crowds: figures on the synthetic held-out set
say how the machinery works, not how it counts real crowds (train on real annotated data for that).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from vigil.config.settings import VigilConfig
from vigil.config.tasks import CrowdConfig
from vigil.execute.local import Inline
from vigil.imaging import images
from vigil.imaging.images import DecodedImage
from vigil.registry.store import ModelStore
from vigil.runtimes.session import open_session
from vigil.tasks.crowd import CrowdCounter, CrowdOptions
from vigil.tasks.crowd_models import DensityCounter, LevelClassifier

from common import IMAGES, REPO

HAND = json.loads((REPO / "tests" / "fixtures" / "vtest_people.json").read_text())["frames"]
BINS = ((2, 10), (10, 50), (50, 150), (150, 400))
ESTIMATORS = {"detector": "detector", "tiled detector": "tiled_detector", "density model": "density",
              "classify-then-count": "auto"}


def train_models(work: Path, store: ModelStore, quick: bool) -> tuple[Path, Path, int]:
    from PIL import Image

    from vigil.train.crowd import CrowdTrainConfig, train_density
    from vigil.train.crowd_level import train_level
    from vigil.train.synthetic_crowd import SceneSource, log_uniform_counts, write_json_dataset

    size, n, epochs = ((192, 144), 40, 4) if quick else ((320, 240), 160, 12)
    source = SceneSource(store, "train", IMAGES)
    write_json_dataset(source.scenes(log_uniform_counts(n, 2, 400, seed=1), size, seed=1), work / "train")
    cfg = CrowdTrainConfig(dataset=str(work / "train"), width=size[0], height=size[1], epochs=epochs, lr=1e-3,
                           freeze_backbone=True, synthetic=True, name="crowd.bench")
    print(json.dumps({k: v for k, v in train_density(cfg, work / "run", store).items() if k != "out"}))
    for level, counts in (("dense", log_uniform_counts(n // 4, 60, 400, seed=3)),
                          ("sparse", log_uniform_counts(n // 4, 2, 25, seed=4))):
        (work / "levels" / level).mkdir(parents=True, exist_ok=True)
        for i, scene in enumerate(source.scenes(counts, (768, 576), seed=len(level))):
            Image.fromarray(scene.pixels).save(work / "levels" / level / f"{i}.jpg")
    train_level(work / "levels", work / "level", store)
    return work / "run", work / "level", size[0]


def load_counter(store: ModelStore, run: Path | None, level: Path | None, side: int) -> CrowdCounter:
    """The crowd task over the default detector's single pass (`[detect] profile = "fast"`: the detector counts
    and its tiles are what this compares), run by an in-process executor as the served task runs it."""
    config = VigilConfig(detect={"profile": "fast"})
    cfg = CrowdConfig(density_side=side)
    executor = Inline(config, store).setup()
    density = DensityCounter(open_session(run / "model.onnx", "onnxruntime"), side) if run else None
    return CrowdCounter(executor.nested, cfg, density, LevelClassifier.load(level) if level else None)


def errors(predicted: list[float], truth: list[float]) -> str:
    diff = np.asarray(predicted) - np.asarray(truth)
    return f"{np.abs(diff).mean():6.1f} / {np.sqrt((diff ** 2).mean()):6.1f}"


def synthetic_table(counter: CrowdCounter, store: ModelStore, per_bin: int, available: list[str]) -> None:
    from vigil.train.synthetic_crowd import SceneSource

    held = SceneSource(store, "held_out", IMAGES)
    rows: dict[str, list[str]] = {name: [] for name in available}
    all_pred: dict[str, list[float]] = {name: [] for name in available}
    all_truth: list[float] = []
    for b, (low, high) in enumerate(BINS):
        counts = np.random.default_rng(b).integers(low, high, per_bin).tolist()
        scenes = held.scenes(counts, (768, 576), seed=100 + b)
        truth = [float(len(s.points)) for s in scenes]
        all_truth += truth
        for name in available:
            pred = [counter.estimate(frame(s.pixels), CrowdOptions(estimator=ESTIMATORS[name])).count for s in scenes]
            all_pred[name] += pred
            rows[name].append(errors(pred, truth))
    print(f"\nheld-out synthetic crowds (768x576, {per_bin} per bin; new backgrounds and people), MAE / MSE")
    print(f"{'estimator':22}" + "".join(f"{f'{lo}-{hi}':>17}" for lo, hi in BINS) + f"{'all':>17}")
    mean = float(np.mean(all_truth))
    print(f"{'mean count (trivial)':22}" + " " * 17 * len(BINS) + f"{errors([mean] * len(all_truth), all_truth):>17}")
    for name in available:
        print(f"{name:22}" + "".join(f"{cell:>17}" for cell in rows[name]) + f"{errors(all_pred[name], all_truth):>17}")


def frame(pixels: np.ndarray) -> DecodedImage:
    return DecodedImage(pixels, pixels.shape[1], pixels.shape[0])


def vtest_table(counter: CrowdCounter, available: list[str]) -> None:
    truth = sum(f["count"] for f in HAND.values())
    print(f"\nreal vtest frames (7, 768x576): total counted vs {truth} by hand (target within ±20%)")
    for name in available:
        counted = [counter.estimate(images.load(IMAGES / n), CrowdOptions(estimator=ESTIMATORS[name])).count
                   for n in HAND]
        total = sum(counted)
        print(f"{name:22} total {total:7.1f} ({100 * (total - truth) / truth:+.0f}%)  per frame "
              + " ".join(f"{c:.0f}" for c in counted))


def speed_table(counter: CrowdCounter, available: list[str], repeats: int) -> None:
    big = cv2.resize(images.load(IMAGES / "vtest_120.jpg").pixels, (1920, 1080), interpolation=cv2.INTER_LINEAR)
    print(f"\nms per 1080p frame (median of {repeats}, after one warm-up run)")
    for name in available:
        options = CrowdOptions(estimator=ESTIMATORS[name])
        counter.estimate(frame(big), options)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            counter.estimate(frame(big), options)
            times.append(1000 * (time.perf_counter() - start))
        print(f"{name:22} {np.median(times):8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny training, 2 scenes per bin, 2 timing runs")
    parser.add_argument("--density-run", type=Path, help="a `vigil train crowd` run folder (skips training)")
    parser.add_argument("--level", type=Path, help="a `vigil train crowd-level` folder")
    parser.add_argument("--side", type=int, default=0, help="density model input long side (0: its training side)")
    args = parser.parse_args()
    store = ModelStore()
    with tempfile.TemporaryDirectory() as tmp:
        run, level, side = args.density_run, args.level, args.side
        if run is None:
            run, level, side = train_models(Path(tmp), store, args.quick)
        elif not side:
            side = max(json.loads((run / "config.json").read_text())[k] for k in ("width", "height"))
        counter = load_counter(store, run, level, side or 768)
        available = [name for name in ESTIMATORS if name in ("detector", "tiled detector") or run is not None]
        if level is None:
            available = [name for name in available if name != "classify-then-count"]
        synthetic_table(counter, store, 2 if args.quick else 8, available)
        vtest_table(counter, available)
        speed_table(counter, available, 2 if args.quick else 10)


if __name__ == "__main__":
    main()
