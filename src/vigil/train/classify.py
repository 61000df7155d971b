"""`vigil train classify`: the recipe from a dataset folder to trained weights (model.safetensors) and reports.
The servable forms are export's job (vigil.export.run.export_fp32 runs right after, from the command)."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from vigil.errors import BadInput
from vigil.registry.store import ModelStore
from vigil.train import report, scratch, trainer
from vigil.train.archs import TransferNet
from vigil.train.data import AUGMENTS
from vigil.train.run import Run, TrainConfig, load_pixels, timed
from vigil.train.schedule import Schedule
from vigil.train.seeding import seeded

log = logging.getLogger(__name__)
CHECKPOINT_SECONDS = 60


def train_classifier(config: TrainConfig, out: Path, store: ModelStore | None = None) -> dict:
    """Train (or resume) the run in `out`; seeded, with its thread count fixed and deterministic kernels."""
    run = Run(out, config, store or ModelStore())
    with seeded(run.config.seed, run.config.threads):
        return _train(run)


def _train(run: Run) -> dict:
    cfg = run.config
    from_scratch = cfg.from_scratch
    if cfg.lr_schedule != "constant" and not from_scratch:
        raise BadInput(f"--lr-schedule {cfg.lr_schedule} drives training from scratch (--no-pretrained); "
                       "fine-tuning pretrained weights keeps its two passes")
    split = run.split()
    pixels = load_pixels(run, split)
    model, origin = run.model(len(split.labels))
    log.info("%s on %d train / %d val / %d test images, backbone weights: %s", cfg.arch, len(split.train),
             len(split.val), len(split.test), origin)
    if from_scratch:
        _from_scratch(run, model, pixels, split.class_weights())
    else:
        if run.state["stage"] == "new":
            _pass_one(run, model, pixels, split.class_weights())
        _pass_two(run, model, pixels, split.class_weights(), from_scratch=False)
    model.load_state_dict(load_file(str(run.out / "best.safetensors")))
    run.save_model(model, split.labels)
    return _finish(run, model, pixels, split.labels, origin)


def _pass_one(run: Run, model: TransferNet, pixels: dict, class_weights: np.ndarray) -> None:
    cfg, rng = run.config, np.random.default_rng(run.config.seed)
    (x_train, y_train), (x_val, y_val) = pixels["train"], pixels["val"]
    features, feature_s = timed(trainer.feature_cache, model, x_train, run.norm, cfg.batch, cfg.feature_copies, rng,
                                 AUGMENTS[cfg.augment])
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
        stats = trainer.fine_tune_epoch(model, data, run.norm, criterion, optimizer, cfg.batch, rng, from_scratch,
                                        AUGMENTS[cfg.augment])
        run.log_epoch(2, epoch, stats)
        if stats.val_loss < best:
            best = stats.val_loss
            _save_best(run, model)
        carry["pass2_seconds"] = round(carry.get("pass2_seconds", 0) + stats.seconds, 3)
        run.checkpoint(model, optimizer, stage="pass2", epoch=epoch, best_val_loss=best, **carry)


def schedule_of(cfg: TrainConfig, per_epoch: int) -> Schedule:
    """The configured policy; step size 0 gives four whole cycles over the run, so it ends at the base rate
    (Smith: a half cycle of 2-10 epochs, stop at the end of a cycle)."""
    step = cfg.step_size or max(1, per_epoch * cfg.scratch_epochs // 8)
    return Schedule(cfg.lr_schedule, cfg.base_lr, cfg.max_lr, step, cfg.gamma)


def _from_scratch(run: Run, model: TransferNet, pixels: dict, class_weights: np.ndarray) -> None:
    cfg = run.config
    scratch.train_everything(model)
    optimizer = scratch.sgd(model, cfg.base_lr)
    if run.state["stage"] == "scratch":
        run.restore(model, optimizer)
    done, best = run.state.get("epoch", 0), run.state.get("best_val_loss", math.inf)
    data = (*pixels["train"], *pixels["val"])
    per_epoch = scratch.iterations_per_epoch(len(data[0]), cfg.batch)
    lr_at, criterion = schedule_of(cfg, per_epoch), trainer.loss_fn(class_weights)
    pending: list[tuple[int, trainer.EpochStats, scratch.Iterations]] = []
    seconds, best_state, saved_at = run.state.get("scratch_seconds", 0.0), None, time.perf_counter()
    for epoch in tqdm(range(done + 1, cfg.scratch_epochs + 1), desc="from scratch", disable=None):
        rng = np.random.default_rng(cfg.seed + epoch)  # resumable: epoch k sees the same augmentation either way
        stats, its = scratch.run_epoch(model, data, run.norm, criterion, optimizer, cfg.batch, rng, lr_at,
                                       (epoch - 1) * per_epoch, epoch, AUGMENTS[cfg.augment])
        if stats.val_loss < best:
            best, best_state = stats.val_loss, {k: v.clone() for k, v in model.state_dict().items()}
        seconds = round(seconds + stats.seconds, 3)
        # a checkpoint of a big network (darknet19: 160 MB with momenta) costs more than a small epoch: one a
        # minute, and the logs with it, so a resumed run repeats at most a minute and never logs an epoch twice
        pending.append((epoch, stats, its))
        if epoch == cfg.scratch_epochs or time.perf_counter() - saved_at > CHECKPOINT_SECONDS:
            for logged_epoch, logged_stats, logged_its in pending:
                run.log_epoch(0, logged_epoch, logged_stats)
                run.log_iterations(logged_its.rows)
            pending.clear()
            if best_state is not None:
                _save_best(run, best_state)
                best_state = None
            run.checkpoint(model, optimizer, stage="scratch", epoch=epoch, best_val_loss=best,
                           scratch_seconds=seconds, scratch_epochs=epoch, step_size=lr_at.step)
            saved_at = time.perf_counter()


def _save_best(run: Run, model: TransferNet | dict) -> None:
    state = model if isinstance(model, dict) else model.state_dict()
    part = run.out / ".best.safetensors.part"
    save_file({k: v.contiguous() for k, v in state.items()}, str(part))
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
        "input_size": run.config.size, "gray": run.config.gray, "backbone_weights": origin,
        "lr_schedule": run.config.lr_schedule if origin == "random init" else "two passes", "labels": list(labels),
        "images": {k: len(v[1]) for k, v in pixels.items()}, "test_accuracy": result["accuracy"],
        "seed": run.config.seed, "split_seed": run.config.split_seed, "fold": run.config.fold,
        "threads": run.config.threads,
        "f1": {k: v["f1"] for k, v in result["per_class"].items()}, "confusion": result["confusion"],
        "timings": {k: v for k, v in run.state.items() if k.endswith(("seconds", "epochs"))},
    }
    (run.out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
