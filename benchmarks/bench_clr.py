"""Cyclical learning rates vs constant rates at the same budget, scored honestly: Darknet-19 from scratch on
scikit-image's lfw_subset (100 faces, 100 non-faces, 25×25 grey), the README's command with every other option at its
default, trained once per seed and per fold of a stratified k-fold split; test accuracy as mean ± standard deviation
[min, max] per policy, and the seconds (wall and CPU) a run takes.

Run from the repository root:
    .venv/bin/python benchmarks/bench_clr.py [--seeds 1,2,3,4,5] [--folds 5] [--policies triangular,...] [--json]
--folds 0 keeps the fixed split (every seed scored on the same 40 test images). The full grid (5 policies × 5 seeds ×
5 folds) is 125 runs; on a shared 2-core machine choose a part of it and say which.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the dataset writer lives with the tests

from tests.face_data import write_lfw_subset
from vigil.train.repeat import repeat
from vigil.train.run import TrainConfig
from vigil.train.weights import arch

DEFAULTS = TrainConfig(dataset="", max_lr=arch("darknet19").scratch_max_lr)
POLICIES = {  # name -> (policy, base rate): constant runs once at the triangle's bottom and once at its top
    "triangular": ("triangular", DEFAULTS.base_lr),
    "triangular2": ("triangular2", DEFAULTS.base_lr),
    "exp_range": ("exp_range", DEFAULTS.base_lr),
    f"constant {DEFAULTS.base_lr:g}": ("constant", DEFAULTS.base_lr),
    f"constant {DEFAULTS.max_lr:g}": ("constant", DEFAULTS.max_lr),
}


def policy_config(dataset: Path, policy: str, base: float, epochs: int, gray: bool) -> TrainConfig:
    return replace(DEFAULTS, dataset=str(dataset), arch="darknet19", pretrained=False, lr_schedule=policy,
                   base_lr=base, scratch_epochs=epochs, gray=gray, name="face.bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=DEFAULTS.scratch_epochs)
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--folds", type=int, default=5, help="stratified folds (0: the fixed split)")
    parser.add_argument("--policies", default=",".join(POLICIES), help=f"some of: {', '.join(POLICIES)}")
    parser.add_argument("--gray", action="store_true", help="one grey input channel (lfw_subset is grey anyway)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    seeds, names = [int(s) for s in args.seeds.split(",")], args.policies.split(",")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_lfw_subset(Path(tmp) / "lfw")
        for name in names:
            policy, base = POLICIES[name]
            cfg = policy_config(dataset, policy, base, args.epochs, args.gray)
            log = lambda r, name=name: print(json.dumps({"policy": name, **r}), file=sys.stderr, flush=True)  # noqa: E731
            results[name] = repeat(cfg, Path(tmp) / name.replace(" ", "_"), seeds, args.folds, on_run=log)
    if args.json:
        print(json.dumps({"epochs": args.epochs, "seeds": seeds, "folds": args.folds, "policies": results}))
        return
    print(f"{len(seeds)} seeds × {args.folds or 'one'} fold(s), {args.epochs} epochs")
    print(f"{'policy':<16} {'runs':>4} {'test acc mean ± std':>20} {'min':>6} {'max':>6} {'s/run':>6} {'cpu s/run':>9}")
    for name, r in results.items():
        a = r["test_accuracy"]
        print(f"{name:<16} {a['n']:>4} {a['mean']:>12.4f} ± {a['std']:.4f} {a['min']:>6.3f} {a['max']:>6.3f} "
              f"{r['seconds']['mean']:>6.1f} {r['cpu_seconds']['mean']:>9.1f}")


if __name__ == "__main__":
    main()
