"""`vigil eval RUN_DIR DATASET`: every exported form of a run side by side, run through the serving wrapper
(onnxruntime / LiteRT; no torch): accuracy, per-class P/R/F1, confusion, images/s, and fp32/int8 agreement."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from vigil.errors import BadInput
from vigil.export.manifest import read_forms, run_info
from vigil.imaging import images
from vigil.runtimes.session import open_session
from vigil.tasks.classify import PersonClassifier
from vigil.train import data
from vigil.train.report import metrics


def eval_samples(run_dir: Path, dataset: Path) -> tuple[list[data.Sample], str]:
    """The run's own test split when DATASET is the one it trained on (never score training images), else all."""
    config = json.loads((run_dir / "config.json").read_text())
    split = data.Split.from_json(json.loads((run_dir / "split.json").read_text()))
    if Path(config["dataset"]).resolve() == dataset.resolve():
        return list(split.test), "test split"
    labels, samples = data.scan(dataset)
    if labels != split.labels:
        raise BadInput(f"{dataset} has labels {labels}, the model knows {split.labels}")
    return samples, "all images"


def evaluate(run_dir: Path, dataset: Path, threads: int = 1) -> dict:
    samples, which = eval_samples(run_dir, dataset)
    crops = [images.load(s.path).pixels for s in samples]
    truth = np.array([s.label for s in samples])
    labels = tuple(run_info(run_dir)["labels"])
    results, predictions = {}, {}
    for form, spec in read_forms(run_dir).items():
        if form == "edgetpu":
            continue  # needs the accelerator attached
        classifier = PersonClassifier(spec, open_session(run_dir / spec.files["model"].name, spec.runtime, threads),
                                      labels)
        classifier.classify(crops[:1])
        start = time.perf_counter()
        probs = np.concatenate([classifier.probabilities([c]) for c in crops])  # one crop a call, as served
        seconds = time.perf_counter() - start
        predictions[form] = probs.argmax(1)
        results[form] = {**metrics(truth, predictions[form], labels), "images_per_s": round(len(crops) / seconds, 1),
                         "ms_per_image": round(seconds / len(crops) * 1000, 3), "model": spec.name}
    out = {"run_dir": str(run_dir.resolve()), "dataset": str(dataset), "images": len(samples), "evaluated_on": which,
           "threads": threads, "forms": results}
    if "onnx" in results:
        out["accuracy"] = results["onnx"]["accuracy"]
        agreement = {f: round(float((predictions[f] == predictions["onnx"]).mean()), 4)
                     for f in predictions if f != "onnx"}
        if agreement:
            out["agreement_by_form"] = agreement
            out["agreement"] = min(agreement.values())
    return out
