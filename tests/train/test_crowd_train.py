"""Synthetic crowds, a density model trained on them in CI-size time, its ONNX served without torch, and the
dense/sparse level classifier routing between the estimators."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import IMAGES
from vigil.ops.density import density_map
from vigil.train.synthetic_crowd import SPLITS, SceneSource, log_uniform_counts, write_json_dataset

pytest.importorskip("torch")
SIZE = (192, 144)


@pytest.fixture(scope="module")
def sources(store):
    return SceneSource(store, "train", IMAGES), SceneSource(store, "held_out", IMAGES)


def test_splits_share_no_people_frames_and_no_backgrounds():
    (train_frames, train_photos, train_part), (held_frames, held_photos, held_part) = SPLITS.values()
    assert not set(train_frames) & set(held_frames) and not set(train_photos) & set(held_photos)
    assert train_part[1] <= held_part[0]  # disjoint parts of the street


def test_scenes_have_exact_points_and_maps_integrate_to_them(sources):
    train, _ = sources
    scenes = train.scenes([3, 40, 400], (320, 240), seed=5)
    for scene, asked in zip(scenes, (3, 40, 400), strict=True):
        assert scene.pixels.shape == (240, 320, 3)
        assert asked * 0.9 <= len(scene.points) <= asked  # a head pasted off the top edge is not in the picture
        dense = density_map(scene.points, 240, 320)
        assert abs(dense.sum() - len(scene.points)) <= 0.05 * len(scene.points)


@pytest.fixture(scope="module")
def trained(sources, store, tmp_path_factory):
    from vigil.train.crowd import CrowdTrainConfig, train_density

    train, held = sources
    root = tmp_path_factory.mktemp("crowd")
    write_json_dataset(train.scenes(log_uniform_counts(40, 2, 150, seed=1), SIZE, seed=1), root / "train")
    write_json_dataset(held.scenes(log_uniform_counts(12, 2, 150, seed=2), SIZE, seed=2), root / "held_out")
    cfg = CrowdTrainConfig(dataset=str(root / "train"), val_dataset=str(root / "held_out"), width=SIZE[0],
                           height=SIZE[1], epochs=8, lr=1e-3, freeze_backbone=True, synthetic=True, threads=2,
                           name="crowd.synthetic_test")
    return train_density(cfg, root / "run", store), cfg, root


@pytest.mark.slow  # trains a density model (about a minute on 2 cores)
def test_density_model_beats_the_mean_count_by_a_wide_margin(trained):
    summary, _, root = trained
    baseline = summary["mean_count_baseline"]["mae"]
    assert summary["fp32"]["mae"] < 0.5 * baseline, summary
    assert summary["int8"]["mae"] < 0.6 * baseline, summary
    assert summary["fp32"]["mse"] >= summary["fp32"]["mae"]  # the literature's MSE is an RMSE
    manifests = sorted(p.name for p in (root / "run" / "manifests").iterdir())
    assert "crowd.synthetic_test.json" in manifests and "crowd.synthetic_test.int8.json" in manifests
    assert "synthetic" in json.loads((root / "run" / "manifests" / "crowd.synthetic_test.fp32.json").read_text())[
        "description"]


@pytest.mark.slow
def test_training_resumes_from_its_checkpoint(trained, store):
    from dataclasses import replace

    from vigil.train.crowd import train_density

    summary, cfg, root = trained
    again = train_density(replace(cfg, int8=False), root / "run", store)  # all epochs done: same weights
    assert again["fp32"]["mae"] == pytest.approx(summary["fp32"]["mae"], rel=1e-4)


NO_TORCH = """
import sys
class Refuse:  # importing torch or imbalanced-learn from here on fails, as on a serving install
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "imblearn"):
            raise ImportError(f"{name} is not installed on a serving box")
sys.meta_path.insert(0, Refuse())
"""
COUNT = """
import vigil.cli.main as m
sys.argv = ["vigil", "crowd", "count", sys.argv[1], sys.argv[2], "--json", "-c", sys.argv[3]]
try:
    m.main()
except SystemExit as e:
    assert not e.code, e.code
assert not {"torch", "imblearn"} & set(sys.modules)
"""


@pytest.mark.slow
def test_served_model_needs_no_torch_and_routes_by_level(trained, sources, store, tmp_path):
    """Register the run in a fresh store, train the level classifier, count in a subprocess without torch."""
    from PIL import Image

    from vigil.export.manifest import register
    from vigil.train.crowd_level import train_level

    _, _, root = trained
    home = tmp_path / "home"
    register(root / "run", home)
    # the pulled detector, hard-linked: the store refuses files that resolve outside its models folder (symlinks)
    shutil.copytree(store.folder("yolov4_tiny.coco"), home / "models" / "yolov4_tiny.coco", copy_function=os.link)
    train, held = sources
    levels = tmp_path / "levels"
    for label, counts in (("dense", [120, 150, 180, 200, 140, 160]), ("sparse", [2, 3, 4, 5])):  # imbalanced
        (levels / label).mkdir(parents=True)
        for i, scene in enumerate(train.scenes(counts, SIZE, seed=len(label))):
            Image.fromarray(scene.pixels).save(levels / label / f"{i}.jpg")
    summary = train_level(levels, tmp_path / "level", store)
    assert summary["classes"] == ["dense", "sparse"] and summary["best_c"] in (0.001, 0.01, 0.1, 1.0, 10.0)
    dense, sparse = held.scenes([180, 3], SIZE, seed=9)
    for name, scene in (("dense.jpg", dense), ("sparse.jpg", sparse)):
        Image.fromarray(scene.pixels).save(tmp_path / name)
    config = tmp_path / "vigil.toml"
    config.write_text(f'[store]\nhome = "{home}"\n[crowd]\ndensity_model = "crowd.synthetic_test"\n'
                      f'level_model = "{tmp_path / "level"}"\ndensity_side = 0\n')
    done = subprocess.run([sys.executable, "-c", NO_TORCH + COUNT, str(tmp_path / "dense.jpg"),
                           str(tmp_path / "sparse.jpg"), str(config)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[:3000]
    first, second = json.loads(done.stdout)
    assert first["level"] == "dense" and first["estimator"] == "density", first
    assert abs(first["estimate"] - len(dense.points)) < 0.5 * len(dense.points), (first, len(dense.points))
    assert second["level"] == "sparse" and second["estimator"] in ("detector", "tiled_detector"), second
    assert 0 <= first["dense_proba"] <= 1


def test_serving_modules_import_without_torch():
    code = ("import sys; import vigil.tasks.crowd, vigil.cli.crowd, vigil.tasks.crowd_models; "
            "bad = {'torch', 'imblearn'} & set(sys.modules); assert not bad, bad")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
