"""`vigil presence …` as a user runs it, and autolabel with the real detector as teacher on the shared frames."""

import csv
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import fixture_image
from vigil.train.autolabel import AutolabelSettings, autolabel, crop_label, split_of
from vigil.train.vww import NON_PERSON, PERSON

VIGIL = [sys.executable, "-m", "vigil.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*VIGIL, *args], capture_output=True, text=True, timeout=120)


def test_detect_json_in_input_order_with_a_bad_image(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    paths = [fixture_image("messi5.jpg"), bad, fixture_image("giraffe.jpg")]
    done = run("presence", "detect", *map(str, paths), "--json")
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert [e["image"] for e in entries] == [str(p) for p in paths]
    assert entries[0]["person"] is True and entries[2]["person"] is False and entries[0]["model"] == "vww.mlperf_tiny"
    assert "not a recognised image" in entries[1]["error"]


def test_the_presence_commands_never_import_torch():
    code = "import sys, vigil.cli.main, vigil.cli.presence, vigil.train.autolabel; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    assert done.stdout.strip() == "False", done.stderr


def test_dataset_cli_reports_counts_and_unknown_classes(tmp_path):
    images = tmp_path / "val2014"
    images.mkdir()
    (images / "a.jpg").write_bytes(b"x")
    (images / "b.jpg").write_bytes(b"y")
    coco = {"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10},
                       {"id": 2, "file_name": "b.jpg", "width": 10, "height": 10}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "area": 5.0, "iscrowd": 0}],
            "categories": [{"id": 1, "name": "person"}]}
    instances = tmp_path / "instances_val2014.json"
    instances.write_text(json.dumps(coco))
    common = ["--coco", str(instances), "--images", str(images), "--out", str(tmp_path / "vww")]
    done = run("presence", "dataset", *common, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) | {"out": ""} == {"out": "", "images": 2, "present": 1, "absent": 1,
                                                    "manifest": str(tmp_path / "vww" / "manifest.csv")}
    with (tmp_path / "vww" / "manifest.csv").open() as f:
        assert [r["split"] for r in csv.DictReader(f)] == ["val", "val"]
    done = run("presence", "dataset", *common, "--class", "cat")
    assert done.returncode == 2 and "unknown class 'cat'" in done.stderr


@pytest.mark.parametrize(("crop", "label"), [
    ((0, 0, 100, 100), 1),  # the whole person inside
    ((200, 200, 300, 300), 0),  # misses the person
    ((0, 0, 25, 100), None),  # cuts the person (3/8 inside): ambiguous
])
def test_a_crop_is_labelled_by_the_same_rule_or_left_out(crop, label):
    import numpy as np

    assert crop_label(np.array([[10, 10, 50, 90]], np.float32), crop, 0.005) == label


def test_splits_hold_out_whole_time_ranges():
    splits = [split_of(t, 10.0) for t in range(100)]
    assert splits[40:50] == ["test"] * 10 and splits[20:30] == ["val"] * 10 and set(splits[:20]) == {"train"}


def test_autolabel_with_the_detector_as_teacher(pipeline, tmp_path):
    frames = tmp_path / "camera"
    frames.mkdir()
    names = ["vtest_000.jpg", "vtest_060.jpg", "vtest_120.jpg", "giraffe.jpg", "horses.jpg", "eagle.jpg"]
    for i, name in enumerate(names):  # name order is time order: people first, then empty scenes
        shutil.copyfile(fixture_image(name), frames / f"{i:02d}_{name}")
    (frames / "99_broken.jpg").write_text("not a picture")
    report = autolabel([frames], tmp_path / "out", pipeline.detect_frame, AutolabelSettings(block_s=1.0, crops=2))
    with (tmp_path / "out" / "manifest.csv").open() as f:
        rows = list(csv.DictReader(f))
    whole = {r["file"]: int(r["label"]) for r in rows if "_c" not in r["file"]}
    assert whole == {"camera_000000.jpg": 1, "camera_000001.jpg": 1, "camera_000002.jpg": 1,
                     "camera_000003.jpg": 0, "camera_000004.jpg": 0, "camera_000005.jpg": 0}
    crops = [r for r in rows if "_c" in r["file"]]
    assert {int(r["label"]) for r in crops} == {0, 1}, "crops with and without people"
    assert {r["split"] for r in rows if r["file"].startswith("camera_000004")} == {"test"}
    assert any("99_broken.jpg" in e for e in report.errors)
    for r in rows:
        assert (tmp_path / "out" / (PERSON if r["label"] == "1" else NON_PERSON) / r["file"]).is_file()
