"""A presence model trained here (`vigil train classify` on `vigil presence autolabel` data, `vigil export --to
litert-int8,c-array --int8-io`): served accuracy on the run's held-out test split, TFLM vs LiteRT's built-in int8
kernels, the smallest TFLM arena, size and MACs. fp32 vs int8 agreement is `vigil eval RUN DATASET --json`.

    .venv/bin/python benchmarks/bench_presence_trained.py /tmp/p2/run [--model person.run.litert]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench_presence import macs
from vigil.imaging import images
from vigil.registry.store import ModelStore
from vigil.runtimes import litert, tflm
from vigil.tasks.presence import PresenceModel
from vigil.train.data import Split


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--model", default="", help="the registered LiteRT name (default <run name>.litert)")
    args = parser.parse_args()
    run: Path = args.run_dir
    name = args.model or json.loads((run / "config.json").read_text())["name"] + ".litert"
    path = run / "model.int8.tflite"
    model = PresenceModel.open(ModelStore(), name)
    split = Split.from_json(json.loads((run / "split.json").read_text()))
    person = split.labels.index("person")
    tensors = [model.tensor(images.load(s.path).pixels) for s in split.test]
    truth = np.array([s.label == person for s in split.test])

    served = np.array([model.person_score(model.session.run([t])[0]) for t in tensors])
    hits = (served >= model.min_score) == truth
    print(f"served (LiteRT XNNPACK) accuracy on the test split at {model.min_score}: {hits.mean():.3f} "
          f"({hits.sum()}/{len(hits)}; people found {hits[truth].sum()}/{truth.sum()}, "
          f"empty right {hits[~truth].sum()}/{(~truth).sum()})")

    reference = litert.interpreter(path, threads=1, builtin_kernels=True)
    micro = tflm.interpreter(path.read_bytes())
    lsb = [int(np.abs(tflm.run(micro, t).astype(np.int32) - litert.run(reference, [t])[0].astype(np.int32)).max())
           for t in tensors]
    print(f"TFLM vs LiteRT built-in kernels on {len(lsb)} test images: max {max(lsb)} LSB, "
          f"{sum(v == 0 for v in lsb)} identical")
    arena = tflm.smallest_arena(path.read_bytes(), tensors[0])
    print(f"model {path.stat().st_size:,} bytes; {macs(path) / 1e6:.2f} M MACs; TFLM arena {arena:,} bytes")


if __name__ == "__main__":
    main()
