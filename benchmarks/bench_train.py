"""Training and export numbers on the real people-vs-background crops of the shared frames (tests/person_data.py).

1. Pass 1 (frozen backbone, head only): the feature cache vs naive epochs that run the backbone every epoch, as the
   seed's Keras fit did. Naive epochs are measured for a few epochs and their mean scaled to the epoch count that
   early stopping actually ran (printed as such).
2. Latency per person crop, one crop a call (a lone person, as serving sees one): ORT fp32, ORT int8, LiteRT int8,
   at 1 and 2 threads; and the fp32/int8 top-1 agreement and accuracy on the run's test split.

Run from the repository root:  .venv/bin/python benchmarks/bench_train.py [--size 224] [--naive-epochs 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the dataset builder lives with the tests

import numpy as np
import torch

from tests import person_data
from vigil.export.evaluate import evaluate
from vigil.export.run import export_run
from vigil.registry.store import ModelStore
from vigil.runtimes.session import open_session
from vigil.tasks.classify import PersonClassifier
from vigil.train import trainer
from vigil.train.classify import train_classifier
from vigil.train.data import Augment, load_all, split
from vigil.train.run import TrainConfig
from vigil.train.weights import arch, build_backbone


def naive_epoch_seconds(dataset: Path, size: int, epochs: int) -> float:
    """The seed's pass 1: every epoch augments and runs the frozen backbone, then trains the head."""
    spec, parts = arch("efficientnet_lite0"), split(dataset)
    x, y = load_all(parts.train, size)
    backbone, _ = build_backbone("efficientnet_lite0", size, 1.0, None, ModelStore())
    model = trainer.TransferNet(backbone, len(parts.labels))
    norm, rng, augment = trainer.Normalise(spec.mean, spec.std), np.random.default_rng(0), Augment()
    optimizer, criterion = trainer.head_optimizer(model.head, 1e-3), trainer.loss_fn(parts.class_weights())
    yt, times = torch.from_numpy(y), []
    for _ in range(epochs):
        start = time.perf_counter()
        model.eval()
        model.head.train()
        for idx in trainer.batches(len(x), 32, rng):
            with torch.no_grad():
                pooled = model.pooled(norm(augment.batch(x[idx], rng)))
            loss = criterion(model.head(pooled), yt[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return float(np.mean(times))


def crop_latency(run: Path, spec, threads: int, crops: list[np.ndarray], repeats: int = 3) -> float:
    classifier = PersonClassifier(spec, open_session(run / spec.files["model"].name, spec.runtime, threads),
                                  spec.labels)
    classifier.classify(crops[:4])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for crop in crops:
            classifier.classify([crop])
        best = min(best, (time.perf_counter() - start) / len(crops))
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--naive-epochs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    root = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    dataset = person_data.build(root / "dataset")
    summary = train_classifier(TrainConfig(dataset=str(dataset), size=args.size, fine_tune_epochs=2,
                                           name="person.bench"), root / "run", ModelStore())
    t = summary["timings"]
    cached = t["feature_seconds"] + t["head_seconds"]
    naive_epoch = naive_epoch_seconds(dataset, args.size, args.naive_epochs)
    epochs = t["pass1_epochs"]
    print(f"\n## pass 1 at {args.size}px, efficientnet_lite0, {summary['images']['train']} train images")
    print("| method | seconds | note |\n|---|---|---|")
    print(f"| feature cache | {cached:.2f} | features {t['feature_seconds']:.2f} s (one pass over the images) + head "
          f"{t['head_seconds']:.2f} s for {epochs} epochs (early stopping) |")
    print(f"| naive epochs | {naive_epoch * epochs:.2f} | {naive_epoch:.2f} s/epoch measured over "
          f"{args.naive_epochs} epochs × {epochs} epochs |")
    print(f"ratio naive / cache: {naive_epoch * epochs / cached:.1f}×; per epoch: "
          f"{naive_epoch / (t['head_seconds'] / epochs):.0f}×")
    print(f"test accuracy {summary['test_accuracy']:.4f}; pass 2: {t.get('pass2_seconds', 0):.1f} s for 2 epochs")

    report = export_run(root / "run", ["onnx-int8", "litert-int8"])
    from vigil.export.manifest import read_forms

    forms = read_forms(root / "run")
    result = evaluate(root / "run", dataset)
    crops = [np.asarray(c) for c in load_all(split(dataset).test, args.size)[0]]
    print(f"\n## latency per crop ({args.size}px input, one crop a call, best of 3 over {len(crops)} crops)")
    print("| form | MB | ms/crop 1 thread | ms/crop 2 threads | accuracy | agreement with fp32 |")
    print("|---|---|---|---|---|---|")
    base = None
    for form, spec in forms.items():
        one, two = (crop_latency(root / "run", spec, n, crops) for n in (1, 2))
        base = base or one
        agree = result.get("agreement_by_form", {}).get(form, 1.0)
        print(f"| {form} | {report['forms'][form]['bytes'] / 1e6:.1f} | {one:.2f} ({base / one:.1f}×) | {two:.2f} | "
              f"{result['forms'][form]['accuracy']:.4f} | {agree:.4f} |")
    print(f"\nrun folder: {root / 'run'}")


if __name__ == "__main__":
    main()
