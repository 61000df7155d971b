"""An honest score: one recipe trained over several seeds and over the folds of a stratified k-fold split, its test
accuracy reported as mean, spread (standard deviation), min and max rather than one run on one split.

On a small set one run says little: 40 test images make one image 2.5 points, and a seed alone moved the Darknet-19
face run between 0.85 and 0.975 (issue 24). Seeds vary the weights' init, data order and augmentation on the same
test images; folds vary which images are the test images (each image is tested exactly once over the folds). Every
run keeps its own folder under `root` and resumes like any run, so an interrupted repeat picks up where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from vigil.registry.store import ModelStore
from vigil.train.classify import train_classifier
from vigil.train.run import TrainConfig


def spread(values: Sequence[float]) -> dict:
    """Mean, sample standard deviation (0 for one value), min, max and n."""
    v = np.asarray(values, np.float64)
    return {"mean": round(float(v.mean()), 4), "std": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4),
            "min": round(float(v.min()), 4), "max": round(float(v.max()), 4), "n": len(v)}


def run_name(seed: int, fold: int | None) -> str:
    return f"seed{seed}" if fold is None else f"fold{fold}_seed{seed}"


def repeat(config: TrainConfig, root: Path, seeds: Sequence[int], folds: int = 0, store: ModelStore | None = None,
           on_run: Callable[[dict], None] | None = None) -> dict:
    """Train `config` once per seed (on its own split), or once per seed and fold of a stratified `folds`-fold
    split; returns every run's test accuracy and time, and their spread overall, per seed and per fold."""
    store, runs = store or ModelStore(), []
    for fold in range(folds) if folds else [None]:
        for seed in seeds:
            cfg = replace(config, seed=seed, fold=fold, folds=folds or config.folds)
            wall, cpu = time.perf_counter(), time.process_time()
            summary = train_classifier(cfg, root / run_name(seed, fold), store)
            runs.append({"seed": seed, "fold": fold, "test_accuracy": summary["test_accuracy"],
                         "test_images": summary["images"]["test"], "threads": summary["threads"],
                         "seconds": round(time.perf_counter() - wall, 1),
                         "cpu_seconds": round(time.process_time() - cpu, 1)})
            if on_run:
                on_run(runs[-1])
    return summarise(runs)


def summarise(runs: list[dict]) -> dict:
    accuracy = [r["test_accuracy"] for r in runs]
    by = lambda key: {str(k): spread([r["test_accuracy"] for r in runs if r[key] == k])  # noqa: E731
                      for k in dict.fromkeys(r[key] for r in runs)}
    out = {"test_accuracy": spread(accuracy), "per_seed": by("seed"), "seconds": spread([r["seconds"] for r in runs]),
           "cpu_seconds": spread([r["cpu_seconds"] for r in runs]), "runs": runs}
    if runs and runs[0]["fold"] is not None:
        out["per_fold"] = by("fold")
    return out
