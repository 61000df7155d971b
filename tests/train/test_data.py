"""Dataset layout, stratified split, class weights and augmentation on a real (small) dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import person_data
from tests.conftest import fixture_image
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


def _manifest_dataset(root: Path, rows: list[tuple[str, int, str]]) -> Path:
    """person/ and non_person/ images from the fixture frames, with autolabel's manifest.csv."""
    for name, label, _ in rows:
        folder = root / ("person" if label else "non_person")
        folder.mkdir(parents=True, exist_ok=True)
        Image.open(fixture_image("vtest_000.jpg" if label else "giraffe.jpg")).resize((48, 48)).save(folder / name)
    lines = ["file,label,split", *(f"{name},{label},{part}" for name, label, part in rows)]
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root


def test_a_manifest_decides_the_split(tmp_path):
    """autolabel's held-out time ranges stay held out: the split is the manifest's, not a random one."""
    rows = [(f"cam_{i:03d}.jpg", i % 2, ("train", "train", "train", "val", "test")[i // 2 % 5]) for i in range(20)]
    root = _manifest_dataset(tmp_path / "ds", rows)
    split = data.split(root, seed=1)
    assert split.labels == ("non_person", "person")
    for part in ("train", "val", "test"):
        expected = {(str(root / ("person" if label else "non_person") / name), label)
                    for name, label, where in rows if where == part}
        assert {(s.path, s.label) for s in getattr(split, part)} == expected
    assert data.split(root, seed=7) == split  # the seed only drives the random split


@pytest.mark.parametrize("change, message", [
    (lambda rows: [*rows, ("gone.jpg", 1, "train")], "person/gone.jpg is not an image"),
    (lambda rows: [(n, lab, "holdout" if i == 0 else s) for i, (n, lab, s) in enumerate(rows)], "line 2"),
    (lambda rows: [(n, lab, "train" if s == "test" else s) for n, lab, s in rows], "no images in the test"),
])
def test_a_bad_manifest_is_named(tmp_path, change, message):
    rows = [(f"cam_{i:03d}.jpg", i % 2, ("train", "train", "val", "test")[i % 4]) for i in range(12)]
    root = _manifest_dataset(tmp_path / "ds", rows)
    broken = change(rows)
    (root / "manifest.csv").write_text("\n".join(["file,label,split", *(f"{n},{lab},{s}" for n, lab, s in broken)]))
    with pytest.raises(BadInput, match=message):
        data.split(root)
