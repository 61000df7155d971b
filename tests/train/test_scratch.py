"""Darknet-19 from scratch on scikit-image's lfw_subset (faces vs non-faces, 25×25 grey) with a triangular cyclical
rate: the CI-size version of the README's run (fewer epochs, same recipe), its per-iteration log and the range
test."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.face_data import write_lfw_subset
from tests.test_cli import VIGIL
from vigil.errors import BadInput
from vigil.train.classify import train_classifier
from vigil.train.run import TrainConfig
from vigil.train.schedule import cyclic_lr
from vigil.train.weights import arch

EPOCHS = 8
BASE, TOP = TrainConfig(dataset="").base_lr, arch("darknet19").scratch_max_lr


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    return write_lfw_subset(tmp_path_factory.mktemp("lfw"))


@pytest.fixture(scope="module")
def run(faces, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("face_run")
    cfg = TrainConfig(dataset=str(faces), arch="darknet19", pretrained=False, lr_schedule="triangular",
                      scratch_epochs=EPOCHS, gray=True, name="face.test")
    return out, train_classifier(cfg, out)


def test_learns_faces_from_scratch_far_above_chance(run):
    _, summary = run
    assert summary["backbone_weights"] == "random init" and summary["lr_schedule"] == "triangular"
    assert summary["images"] == {"train": 128, "val": 32, "test": 40}
    assert summary["test_accuracy"] >= 0.8
    assert summary["input_size"] == 32 and summary["gray"] is True


def test_every_iteration_logs_the_paper_rate(run):
    out, _ = run
    rows = list(csv.DictReader((out / "lr.csv").open()))
    per_epoch = 4  # 128 training images, batches of 32
    assert len(rows) == EPOCHS * per_epoch
    step = json.loads((out / "checkpoint.json").read_text())["step_size"]
    assert step == per_epoch * EPOCHS // 8  # four whole cycles
    for row in rows:
        assert float(row["lr"]) == pytest.approx(cyclic_lr(int(row["iteration"]), BASE, TOP, step), rel=1e-5)
    assert float(rows[-1]["lr"]) < (BASE + TOP) / 2  # the run ends on the way down its last cycle
    assert (out / "curves.png").stat().st_size > 10_000
    epochs = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in epochs] == list(range(1, EPOCHS + 1))


def test_manifest_declares_a_grey_input(run):
    from vigil.export.run import export_fp32

    out, _ = run
    export_fp32(out)  # what `vigil train classify` runs after training
    spec = json.loads((out / "manifests" / "face.test.fp32.json").read_text())
    assert spec["input"]["colour"] == "GRAY" and len(spec["input"]["mean"]) == 1


def test_resume_of_a_finished_run_trains_nothing_more(run, faces):
    out, summary = run
    cfg = TrainConfig(dataset=str(faces), arch="darknet19", pretrained=False, lr_schedule="triangular",
                      scratch_epochs=EPOCHS, gray=True, name="face.test")
    again = train_classifier(cfg, out)
    assert again["test_accuracy"] == summary["test_accuracy"]
    assert len(list(csv.DictReader((out / "lr.csv").open()))) == EPOCHS * 4


def test_a_schedule_needs_training_from_scratch(faces, tmp_path):
    cfg = TrainConfig(dataset=str(faces), arch="efficientnet_lite0", lr_schedule="triangular")
    with pytest.raises(BadInput, match="from scratch"):
        train_classifier(cfg, tmp_path / "r")


def test_lr_range_test_through_the_cli_suggests_a_rising_range(faces, tmp_path):
    env = {**os.environ, "VIGIL_HOME": str(tmp_path / "home")}
    done = subprocess.run([*VIGIL, "train", "lr-find", str(faces), "--arch", "darknet19", "--gray", "--iterations",
                           "40", "--end-lr", "0.2", "--out", str(tmp_path / "lr.png"), "--json"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert 1e-4 <= result["suggested_base_lr"] < result["suggested_max_lr"] <= 0.2
    assert (tmp_path / "lr.png").stat().st_size > 10_000
    assert len(list(csv.DictReader((tmp_path / "lr.csv").open()))) == 40


def test_classify_help_shows_the_schedule_options():
    done = subprocess.run([*VIGIL, "train", "classify", "--help"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})
    for option in ("--lr-schedule", "--base-lr", "--max-lr", "--step-size", "--gray", "--scratch-epochs"):
        assert option in done.stdout


def test_settled_batch_norm_holds_the_training_images_statistics():
    import numpy as np
    import torch

    from vigil.train import scratch
    from vigil.train.archs import MobileNetV1, TransferNet
    from vigil.train.trainer import Normalise

    model, norm = TransferNet(MobileNetV1(0.25, 1), 2), Normalise((127.5,), (127.5,))
    x = np.random.default_rng(0).integers(0, 256, (10, 32, 32, 1), dtype=np.uint8)
    conv, bn = model.backbone.features[0][0], model.backbone.features[0][1]
    scratch.settle_batch_norm(model, x, norm, batch=5)
    with torch.no_grad():
        expected = conv(norm(x)).mean((0, 2, 3))
    assert torch.allclose(bn.running_mean, expected, atol=1e-5)
    assert not model.training and bn.momentum == 0.1
