"""Triangular cyclical learning rate vs constant rates at the same budget: Darknet-19 from scratch on scikit-image's
lfw_subset (100 faces, 100 non-faces, 25×25 grey), the README's command with every other option at its default.
Each policy trains over the same split, epochs and seed; test accuracy, best validation accuracy and wall time per
policy (and per seed with --seeds).

Run from the repository root:  .venv/bin/python benchmarks/bench_clr.py [--epochs 32] [--seeds 42,43] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the dataset writer lives with the tests

from tests.face_data import write_lfw_subset
from vigil.train.classify import train_classifier
from vigil.train.run import TrainConfig

DEFAULTS = TrainConfig(dataset="")
POLICIES = {  # name -> (policy, base rate): constant runs once at the triangle's bottom and once at its top
    "triangular": ("triangular", DEFAULTS.base_lr),
    f"constant {DEFAULTS.base_lr:g}": ("constant", DEFAULTS.base_lr),
    f"constant {DEFAULTS.max_lr:g}": ("constant", DEFAULTS.max_lr),
}


def one(dataset: Path, root: Path, name: str, policy: str, base: float, epochs: int, seed: int,
        gray: bool) -> dict:
    out = root / f"{name.replace(' ', '_')}_{seed}"
    cfg = TrainConfig(dataset=str(dataset), arch="darknet19", pretrained=False, lr_schedule=policy, base_lr=base,
                      scratch_epochs=epochs, seed=seed, gray=gray, name="face.bench")
    start = time.perf_counter()
    summary = train_classifier(cfg, out)
    seconds = time.perf_counter() - start
    epochs_log = list(csv.DictReader((out / "metrics.csv").open()))
    return {"policy": name, "seed": seed, "test_accuracy": summary["test_accuracy"],
            "best_val_acc": max(float(r["val_acc"]) for r in epochs_log),
            "final_val_acc": float(epochs_log[-1]["val_acc"]), "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=DEFAULTS.scratch_epochs)
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--gray", action="store_true", help="one grey input channel (lfw_subset is grey anyway)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_lfw_subset(Path(tmp) / "lfw")
        for seed in (int(s) for s in args.seeds.split(",")):
            for name, (policy, base) in POLICIES.items():
                rows.append(one(dataset, Path(tmp), name, policy, base, args.epochs, seed, args.gray))
                if not args.json:
                    print(json.dumps(rows[-1]), file=sys.stderr)
    if args.json:
        print(json.dumps({"epochs": args.epochs, "runs": rows}))
        return
    print(f"{'policy':<16} {'seed':>5} {'test acc':>9} {'best val':>9} {'final val':>10} {'seconds':>8}")
    for r in rows:
        print(f"{r['policy']:<16} {r['seed']:>5} {r['test_accuracy']:>9.4f} {r['best_val_acc']:>9.4f} "
              f"{r['final_val_acc']:>10.4f} {r['seconds']:>8.1f}")


if __name__ == "__main__":
    main()
