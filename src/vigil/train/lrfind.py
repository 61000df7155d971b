"""`vigil train lr-find`: Smith's learning-rate range test. The network trains from scratch (as `classify
--no-pretrained` would) while the rate rises linearly from `start` to `end` over a few hundred iterations; loss and
accuracy against the rate go to a PNG. Suggested: base where accuracy starts to rise, max where it stops rising
(it peaks, becomes ragged or falls), as the paper reads the plot."""

from __future__ import annotations

import csv
from dataclasses import asdict
from pathlib import Path

import numpy as np

from vigil.registry.store import ModelStore
from vigil.runtimes.onnx import default_threads
from vigil.train import data, report, scratch, trainer
from vigil.train.archs import TransferNet
from vigil.train.run import TrainConfig
from vigil.train.schedule import linear_ramp
from vigil.train.seeding import seeded
from vigil.train.weights import arch, build_backbone, pixel_norm


def lr_find(config: TrainConfig, out: Path, store: ModelStore | None = None, iterations: int = 300,
            start: float = 1e-4, end: float = 0.3) -> dict:
    threads = config.threads or default_threads()
    with seeded(config.seed, threads):
        return {**_lr_find(config, out, store, iterations, start, end), "threads": threads}


def _lr_find(config: TrainConfig, out: Path, store: ModelStore | None, iterations: int, start: float,
             end: float) -> dict:
    spec = arch(config.arch)
    size = config.size or spec.size
    split = data.split(Path(config.dataset), config.split_seed)
    x, y = data.load_all(split.train, size, config.gray)
    backbone, _ = build_backbone(config.arch, size, config.width, None, store, False, 1 if config.gray else 3)
    model = TransferNet(backbone, len(split.labels))
    optimizer, criterion = scratch.sgd(model, start), trainer.loss_fn(split.class_weights())
    norm = trainer.Normalise(*pixel_norm(spec, config.gray))
    rows: list[tuple[int, int, float, float, float]] = []
    epoch = 0
    while len(rows) < iterations:
        epoch += 1
        _, _, log = scratch.scratch_epoch(model, x, y, norm, criterion, optimizer, config.batch,
                                          np.random.default_rng(config.seed + epoch),
                                          lambda it: linear_ramp(it, start, end, iterations), len(rows), epoch,
                                          data.AUGMENTS[data.augment_for(config.augment, spec.scratch_augment)])
        rows += log.rows[: iterations - len(rows)]
    result = suggest(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(rows, out.with_suffix(".csv"))
    report.plot_lr_find(rows, result, out)
    return {**result, "png": str(out.resolve()), "csv": str(out.with_suffix(".csv").resolve()),
            "iterations": iterations, "start_lr": start, "end_lr": end, "arch": config.arch, "input_size": size,
            "gray": config.gray, "images": len(x), "config": {k: v for k, v in asdict(config).items()
                                                                if k in ("batch", "seed", "split_seed", "width")}}


def suggest(rows: list[tuple[int, int, float, float, float]]) -> dict:
    """base: the rate at which smoothed accuracy has made a quarter of its rise; max: where it peaks (the
    first rate within 1% of the best, so a ragged plateau does not pull it up)."""
    lrs = np.array([r[2] for r in rows])
    acc, loss = report.smoothed([r[4] for r in rows]), report.smoothed([r[3] for r in rows])
    peak = int(np.argmax(acc >= acc.max() - 0.01))
    floor = float(acc[: peak + 1].min())
    rise = int(np.argmax(acc >= floor + 0.25 * (acc[peak] - floor)))
    base, top = float(lrs[rise]), float(lrs[peak])
    if top <= base:  # no rise to read: fall back on Smith's rule of thumb, base a quarter of max
        top = float(lrs[int(np.argmin(loss))])
        base = top / 4
    return {"suggested_base_lr": round(base, 6), "suggested_max_lr": round(top, 6),
            "min_loss_lr": round(float(lrs[int(np.argmin(loss))]), 6), "peak_accuracy": round(float(acc.max()), 4)}


def _write_csv(rows: list[tuple[int, int, float, float, float]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["iteration", "epoch", "lr", "loss", "acc"])
        writer.writerows(rows)
