"""Dataset layout, stratified split, class weights and augmentation on a real (small) dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import person_data
from vigil.errors import BadInput
from vigil.train import data


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return person_data.dataset(tmp_path_factory.getbasetemp() / "person")


def test_scan_counts_no_faces_for_parent(dataset):
    labels, samples = data.scan(dataset)
    assert labels == ("background", "person")
    in_no_faces = [s for s in samples if "/no_faces/" in s.path]
    assert in_no_faces and all(s.label == labels.index("background") for s in in_no_faces)


def test_split_is_stratified_disjoint_and_fixed(dataset):
    split = data.split(dataset, seed=42)
    paths = [set(s.path for s in part) for part in (split.train, split.val, split.test)]
    assert not (paths[0] & paths[1] or paths[0] & paths[2] or paths[1] & paths[2])
    total = sum(len(p) for p in paths)
    assert len(split.test) == pytest.approx(0.2 * total, abs=2)
    for part in (split.train, split.val, split.test):  # both classes in every part, close to their share
        share = np.mean([s.label for s in part])
        assert 0.35 < share < 0.65
    assert data.split(dataset, seed=42) == split
    assert data.Split.from_json(split.to_json()) == split


def test_class_weights_are_max_over_count():
    samples = tuple([data.Sample("a", 0)] * 10 + [data.Sample("b", 1)] * 5)
    assert data.Split(("a", "b"), samples, (), ()).class_weights().tolist() == [1.0, 2.0]


def _tree(root: Path, counts: dict[str, int]) -> Path:
    for label, n in counts.items():
        (root / label).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(root / label / f"{i}.jpg")
    return root


@pytest.mark.parametrize("counts, error", [
    ({"a": 5, "b": 5}, None),
    ({"a": 5}, BadInput),  # one class cannot be classified
    ({"a": 5, "b": 2}, BadInput),  # too few to split
    ({}, BadInput),
])
def test_scan_rejects_unusable_datasets(tmp_path, counts, error):
    root = _tree(tmp_path / "ds", counts) if counts else tmp_path / "missing"
    if error:
        with pytest.raises(error):
            data.scan(root)
    else:
        assert len(data.scan(root)[1]) == sum(counts.values())


def test_augment_keeps_shape_and_changes_pixels(dataset):
    image = data.load_image(str(next((dataset / "person").glob("*.jpg"))), 64)
    rng = np.random.default_rng(0)
    out = data.Augment().batch(np.stack([image] * 4), rng)
    assert out.shape == (4, 64, 64, 3) and out.dtype == np.uint8
    assert all(np.abs(o.astype(int) - image).mean() > 1 for o in out)
    assert np.array_equal(data.Augment(0, 0, 0, 0, flip=False)(image, rng), image)
