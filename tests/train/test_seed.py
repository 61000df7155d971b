"""Seeded training (issue 24): the same seed twice gives bitwise the same weights and accuracy, another seed other
weights; the split seed and k-fold splits; the spread over repeats. A tiny real set: 12 lfw_subset faces and 12
non-faces, MobileNetV1 ×0.25 from scratch at 32 px (the from-scratch path Darknet-19 takes, in a second)."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from tests.face_data import write_lfw_subset
from vigil.config.training import DEFAULT_SEED
from vigil.errors import BadInput
from vigil.train import data
from vigil.train.classify import train_classifier
from vigil.train.repeat import repeat, spread
from vigil.train.run import TrainConfig

PER_LABEL = 12


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    full = write_lfw_subset(tmp_path_factory.mktemp("lfw"))
    root = tmp_path_factory.mktemp("tiny")
    for label in ("face", "nonface"):
        (root / label).mkdir()
        for path in sorted((full / label).glob("*.png"))[:PER_LABEL]:
            shutil.copy(path, root / label / path.name)
    return root


def config(tiny: Path, **changes) -> TrainConfig:
    base = TrainConfig(dataset=str(tiny), arch="mobilenet_v1", width=0.25, size=32, gray=True, pretrained=False,
                       scratch_epochs=2, batch=8, threads=1, name="face.seed")
    return replace(base, **changes)


def weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "model.safetensors"))


@pytest.fixture(scope="module")
def seed_7(tiny, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("seed7")
    return out, train_classifier(config(tiny, seed=7), out)


def test_the_same_seed_twice_gives_the_same_weights_bitwise(seed_7, tiny, tmp_path):
    out, summary = seed_7
    again = train_classifier(config(tiny, seed=7), tmp_path / "again")
    first, second = weights(out), weights(tmp_path / "again")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert again["test_accuracy"] == summary["test_accuracy"]
    assert curves(out) == curves(tmp_path / "again")


def curves(out: Path) -> list[dict]:
    """metrics.csv without its seconds column (time is the one thing a seed does not fix)."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader((out / "metrics.csv").open())]


def test_another_seed_gives_other_weights_on_the_same_split(seed_7, tiny, tmp_path):
    out, _ = seed_7
    train_classifier(config(tiny, seed=8), tmp_path / "other")
    first, other = weights(out), weights(tmp_path / "other")
    assert any(not torch.equal(first[k], other[k]) for k in first if first[k].is_floating_point())
    assert (out / "split.json").read_text() == (tmp_path / "other" / "split.json").read_text()


def test_config_records_the_seed_the_split_seed_and_the_threads(seed_7):
    out, summary = seed_7
    saved = json.loads((out / "config.json").read_text())
    assert (saved["seed"], saved["split_seed"], saved["threads"], saved["fold"]) == (7, 42, 1, None)
    assert (summary["seed"], summary["threads"]) == (7, 1)
    assert TrainConfig(dataset="").seed == DEFAULT_SEED  # no --seed: still one fixed seed
    assert not torch.are_deterministic_algorithms_enabled()  # the process gets its settings back


def test_folds_test_every_image_once_stratified(tiny):
    splits = [data.split(tiny, seed=3, fold=k, folds=4) for k in range(4)]
    tested = [s.path for split in splits for s in split.test]
    assert sorted(tested) == sorted(s.path for s in data.scan(tiny)[1])
    for split in splits:
        parts = [{s.path for s in p} for p in (split.train, split.val, split.test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert [sum(s.label == i for s in split.test) for i in (0, 1)] == [3, 3]
    assert data.split(tiny, seed=3, fold=1, folds=4) == splits[1]
    with pytest.raises(BadInput, match="--fold 4"):
        data.split(tiny, fold=4, folds=4)


def test_repeat_reports_the_spread_over_seeds_and_folds(tiny, tmp_path):
    result = repeat(config(tiny, scratch_epochs=1), tmp_path, seeds=[1, 2], folds=2)
    assert [(r["seed"], r["fold"]) for r in result["runs"]] == [(1, 0), (2, 0), (1, 1), (2, 1)]
    accuracy = [r["test_accuracy"] for r in result["runs"]]
    assert result["test_accuracy"] == spread(accuracy)
    assert result["per_fold"].keys() == {"0", "1"} and result["per_seed"]["1"]["n"] == 2
    assert all(r["test_images"] == PER_LABEL for r in result["runs"])  # half of 24 in each fold's test


def test_spread_is_mean_sample_std_min_max():
    assert spread([0.9, 1.0]) == {"mean": 0.95, "std": 0.0707, "min": 0.9, "max": 1.0, "n": 2}
    assert spread([0.5])["std"] == 0.0


@pytest.mark.parametrize("command", [["train", "classify"], ["train", "lr-find"], ["train", "crowd"],
                                     ["train", "crowd-level"], ["faces", "dataset"], ["eval"]])
def test_every_training_command_takes_a_seed(command):
    from vigil.cli.main import app

    done = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert done.exit_code == 0
    assert "--seeds" in done.output if command == ["eval"] else "--seed" in done.output
