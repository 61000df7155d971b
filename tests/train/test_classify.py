"""The whole recipe on real crops: people vs background from the shared camera frames (tests/person_data.py)."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests import person_data
from vigil.errors import BadInput
from vigil.registry.specs import ModelSpec
from vigil.registry.store import ModelStore
from vigil.train.classify import train_classifier
from vigil.train.run import TrainConfig


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "person"


@pytest.fixture(scope="module")
def run(root) -> Path:
    return person_data.trained_run(root)


def test_run_is_accurate_far_above_chance(run):
    summary = json.loads((run / "summary.json").read_text())
    assert summary["labels"] == ["background", "person"]
    assert summary["test_accuracy"] >= 0.9  # chance is 0.5
    assert min(summary["f1"].values()) >= 0.85
    assert summary["backbone_weights"].startswith("efficientnet_lite0.imagenet")
    assert summary["timings"]["pass1_epochs"] >= 1 and summary["timings"]["feature_seconds"] > 0


@pytest.mark.parametrize("name", ["config.json", "split.json", "metrics.csv", "curves.png", "confusion_matrix.png",
                                  "classification_report.txt", "model.safetensors", "model.onnx",
                                  "manifests/person.test.fp32.json"])
def test_run_folder_holds(run, name):
    path = run / name
    assert path.is_file() and path.stat().st_size > 0
    if name.endswith(".png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metrics_csv_has_both_passes(run):
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert {r["pass"] for r in rows} == {"1", "2"}
    assert [int(r["epoch"]) for r in rows if r["pass"] == "2"] == [1, 2]


def test_manifest_is_a_loadable_store_model(run, tmp_path):
    spec = ModelSpec.model_validate_json((run / "manifests" / "person.test.fp32.json").read_text())
    assert spec.task == "classify" and spec.labels == ("background", "person")
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "m.json").write_text(spec.model_dump_json())
    store = ModelStore(tmp_path)
    store.pull("person.test.fp32")
    assert store.path("person.test.fp32", "model").read_bytes() == (run / "model.onnx").read_bytes()


def test_resume_continues_from_the_checkpoint(run, root, tmp_path):
    """A copy of the finished run asked for one more fine-tune epoch trains only that epoch."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    saved = json.loads((copy / "config.json").read_text())
    config = TrainConfig(**{**saved, "fine_tune_epochs": 3})
    train_classifier(config, copy, ModelStore())
    rows = list(csv.DictReader((copy / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows if r["pass"] == "2"] == [1, 2, 3]
    assert len([r for r in rows if r["pass"] == "1"]) == len([r for r in csv.DictReader((run / "metrics.csv").open())
                                                              if r["pass"] == "1"])
    with pytest.raises(BadInput, match="another config"):
        train_classifier(replace(config, lr=0.5), copy, ModelStore())
