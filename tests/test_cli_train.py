"""`vigil train classify`, `vigil export`, `vigil eval`, `vigil models add` as a user runs them: real subprocesses,
stdout parsed as exactly one JSON document, progress and logs on stderr."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests import person_data
from tests.test_cli import VIGIL


def vigil(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIGIL_HOME": str(home)}
    return subprocess.run([*VIGIL, *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> tuple[Path, Path, dict]:
    """A tiny random-init MobileNetV1 (width 0.25, the Visual Wake Words size) trained through the CLI."""
    dataset = person_data.dataset(tmp_path_factory.getbasetemp() / "person")
    home, out = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("cli") / "run"
    done = vigil("train", "classify", str(dataset), "--arch", "mobilenet_v1", "--width", "0.25", "--size", "64",
                 "--no-pretrained", "--scratch-epochs", "3", "--out", str(out), "--json", home=home)
    assert done.returncode == 0, done.stderr
    return out, home, json.loads(done.stdout)


def test_train_json_summary(cli_run):
    out, _, summary = cli_run
    assert summary["run_dir"] == str(out.resolve()) and summary["arch"] == "mobilenet_v1"
    assert summary["backbone_weights"] == "random init"
    assert 0.0 <= summary["test_accuracy"] <= 1.0 and set(summary["f1"]) == {"background", "person"}
    assert summary["model"] == "person.run"


def test_export_eval_and_models_add(cli_run):
    out, home, _ = cli_run
    done = vigil("export", str(out), "--to", "onnx-int8", "--json", home=home)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # which form serves is measured at export (never assume int8 is faster on a tiny model): check the rule
    int8_ms, fp32_ms = (report["forms"][f]["ms_per_crop_1_thread"] for f in ("onnx-int8", "onnx"))
    assert report["serving_default"] == ("onnx-int8" if int8_ms <= fp32_ms * 1.05 else "onnx")
    assert set(report["registered"]) == {"person.run", "person.run.fp32", "person.run.int8"}
    listed = json.loads(vigil("models", "list", "--json", home=home).stdout)
    assert {"person.run", "person.run.int8"} <= {row["name"] for row in listed if row["verified"]}
    done = vigil("eval", str(out), str(Path(json.loads((out / "config.json").read_text())["dataset"])), "--json",
                 home=home)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"accuracy", "agreement", "forms", "images"} <= set(result)
    assert set(result["forms"]) == {"onnx", "onnx-int8"}
    again = vigil("export", "person.run.fp32", "--to", "onnx-int8", "--no-register", "--json", home=home)
    assert again.returncode == 0 and json.loads(again.stdout)["run_dir"] == str(out.resolve())
    added = vigil("models", "add", str(out), "--json", home=home)
    assert added.returncode == 0 and set(json.loads(added.stdout)["registered"]) == set(report["registered"])


@pytest.mark.parametrize("args, message", [
    (["export", "{out}", "--to", "tflite"], "unknown export form"),
    (["export", "{tmp}", "--to", "onnx"], "not a finished training run"),
    (["export", "yolov4_tiny.coco", "--to", "onnx"], "not a model trained here"),
    (["export", "person.rnu", "--to", "onnx"], "unknown model 'person.rnu'; did you mean"),
    (["train", "classify", "{tmp}", "--out", "{tmp}/r", "--arch", "vgg16"], "unknown architecture"),
    (["train", "classify", "{tmp}/missing", "--out", "{tmp}/r"], "does not exist"),
])
def test_bad_requests_exit_2_with_the_reason(cli_run, tmp_path, args, message):
    out, home, _ = cli_run
    done = vigil(*(a.format(out=out, tmp=tmp_path) for a in args), home=home)
    assert done.returncode == 2 and message in done.stderr and done.stdout == ""
