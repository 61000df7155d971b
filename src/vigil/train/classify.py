"""`vigil train classify`: the recipe from a dataset folder to trained weights (model.safetensors) and reports.
The servable forms are export's job (vigil.export.run.export_fp32 runs right after, from the command)."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from vigil.registry.store import ModelStore
from vigil.runtimes.onnx import default_threads
from vigil.train import report, trainer
from vigil.train.archs import TransferNet
from vigil.train.run import Run, TrainConfig, load_pixels, timed

log = logging.getLogger(__name__)


def train_classifier(config: TrainConfig, out: Path, store: ModelStore | None = None) -> dict:
    torch.set_num_threads(config.threads or default_threads())
    run = Run(out, config, store or ModelStore())
    cfg = run.config
    split = run.split()
    pixels = load_pixels(run, split)
    model, origin = run.model(len(split.labels))
    log.info("%s on %d train / %d val / %d test images, backbone weights: %s", cfg.arch, len(split.train),
             len(split.val), len(split.test), origin)
    if run.state["stage"] == "new":
        _pass_one(run, model, pixels, split.class_weights())
    _pass_two(run, model, pixels, split.class_weights(), from_scratch=origin == "random init")
    model.load_state_dict(load_file(str(run.out / "best.safetensors")))
    run.save_model(model, split.labels)
    return _finish(run, model, pixels, split.labels, origin)


def _pass_one(run: Run, model: TransferNet, pixels: dict, class_weights: np.ndarray) -> None:
    cfg, rng = run.config, np.random.default_rng(run.config.seed)
    (x_train, y_train), (x_val, y_val) = pixels["train"], pixels["val"]
    features, feature_s = timed(trainer.feature_cache, model, x_train, run.norm, cfg.batch, cfg.feature_copies, rng)
    val_features = trainer.pooled_features(model, x_val, run.norm, cfg.batch, "features val")
    labels = torch.from_numpy(np.tile(y_train, cfg.feature_copies + 1))
    cache = (features, labels, val_features, torch.from_numpy(y_val))
    epochs, head_s = timed(trainer.train_head, model, cache, class_weights, cfg.lr, cfg.epochs, cfg.patience,
                           cfg.batch, cfg.seed, lambda e, s: run.log_epoch(1, e, s))
    val_loss = trainer._step(lambda i: model.head(val_features[i]), cache[3], len(val_features), cfg.batch,
                             trainer.loss_fn(class_weights), None, None)[0]
    _save_best(run, model)
    run.checkpoint(model, None, stage="pass1", epoch=0, best_val_loss=val_loss, pass1_epochs=epochs,
                   feature_seconds=round(feature_s, 3), head_seconds=round(head_s, 3))


def _pass_two(run: Run, model: TransferNet, pixels: dict, class_weights: np.ndarray, from_scratch: bool) -> None:
    cfg = run.config
    params = trainer.unfreeze_top(model, everything=from_scratch)
    # lr / 10 protects pretrained features (seed 000); a network learning from scratch needs the full rate
    optimizer = trainer.head_optimizer(model.head, cfg.lr if from_scratch else cfg.lr / 10, params)
    run.restore(model, optimizer if run.state["stage"] == "pass2" else None)
    done, best = run.state.get("epoch", 0), run.state.get("best_val_loss", math.inf)
    if done:
        log.info("resuming fine-tuning after epoch %d (best val loss %.4f)", done, best)
    data = (*pixels["train"], *pixels["val"])
    criterion, carry = trainer.loss_fn(class_weights), {k: v for k, v in run.state.items() if k.endswith("seconds")}
    carry["pass1_epochs"] = run.state.get("pass1_epochs", 0)
    for epoch in tqdm(range(done + 1, cfg.fine_tune_epochs + 1), desc="pass 2 (fine-tune)", disable=None):
        rng = np.random.default_rng(cfg.seed + epoch)  # resumable: epoch k sees the same augmentation either way
        stats = trainer.fine_tune_epoch(model, data, run.norm, criterion, optimizer, cfg.batch, rng, from_scratch)
        run.log_epoch(2, epoch, stats)
        if stats.val_loss < best:
            best = stats.val_loss
            _save_best(run, model)
        carry["pass2_seconds"] = round(carry.get("pass2_seconds", 0) + stats.seconds, 3)
        run.checkpoint(model, optimizer, stage="pass2", epoch=epoch, best_val_loss=best, **carry)


def _save_best(run: Run, model: TransferNet) -> None:
    part = run.out / ".best.safetensors.part"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(part))
    part.replace(run.out / "best.safetensors")


def _finish(run: Run, model: TransferNet, pixels: dict, labels: tuple[str, ...], origin: str) -> dict:
    x_test, y_test = pixels["test"]
    probs = trainer.predict(model, x_test, run.norm)
    result = report.metrics(y_test, probs.argmax(1), labels)
    (run.out / "classification_report.txt").write_text(report.report_text(result))
    report.plot_confusion(result, run.out / "confusion_matrix.png", f"{run.config.arch} test set")
    report.plot_curves(run.out / "metrics.csv", run.out / "curves.png")
    summary = {
        "run_dir": str(run.out.resolve()), "model": run.config.name, "arch": run.config.arch,
        "input_size": run.config.size, "backbone_weights": origin, "labels": list(labels),
        "images": {k: len(v[1]) for k, v in pixels.items()}, "test_accuracy": result["accuracy"],
        "f1": {k: v["f1"] for k, v in result["per_class"].items()}, "confusion": result["confusion"],
        "timings": {k: v for k, v in run.state.items() if k.endswith(("seconds", "epochs"))},
    }
    (run.out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
