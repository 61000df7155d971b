"""`vigil faces …` end to end on real photos: one JSON document on stdout with --json, progress on
stderr, typed failures as exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import fixture_image
from vigil.cli.main import app
from vigil.registry.samples import sample_path


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cli_faces")
    dataset = root / "dataset"
    (dataset / "Obama" / "no_faces").mkdir(parents=True)
    for name in ("obama.jpg", "obama_partial_face2.jpg"):
        shutil.copy(sample_path(name), dataset / "Obama" / name)
    shutil.copy(fixture_image("horses.jpg"), dataset / "Obama" / "no_faces" / "horses.jpg")  # no usable face
    (dataset / "Obama" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (dataset / "Messi").mkdir()
    shutil.copy(fixture_image("messi5.jpg"), dataset / "Messi" / "messi5.jpg")
    return {"VIGIL_STORE__DATA_DIR": str(root / "data"), "root": root, "dataset": dataset}


def run(env: dict, *args: str, code: int = 0):
    runner = CliRunner(env={k: v for k, v in env.items() if k.startswith("VIGIL_")})
    result = runner.invoke(app, ["faces", *args])
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def test_enroll_tree_then_rerun_skips_by_hash(env):
    first = json.loads(run(env, "enroll", str(env["dataset"]), "--json").stdout)
    obama = next(p for p in first["people"] if p["name"] == "Obama")
    assert obama["samples"] == 2 and len(obama["no_face"]) == 1 and len(obama["unreadable"]) == 1
    assert first["totals"]["added"] == 3
    again = run(env, "enroll", str(env["dataset"]), "--json")
    # a photo without a face is still reported as one (a retry never turns it into a success)
    assert json.loads(again.stdout)["totals"] == {"added": 0, "skipped": 3, "no_face": 1, "unreadable": 1}
    assert "skipped" in again.stderr  # progress goes to stderr


def test_list_and_recognize(env):
    people = json.loads(run(env, "list", "--json").stdout)
    assert {p["name"]: p["samples"] for p in people} == {"Obama": 2, "Messi": 1}
    images = [str(sample_path("obama2.jpg")), str(sample_path("biden.jpg")), str(fixture_image("horses.jpg")),
              str(env["root"] / "missing.jpg")]
    entries = json.loads(run(env, "recognize", "--json", *images).stdout)
    assert [e["image"] for e in entries] == images
    assert [[f["name"] for f in e["faces"]] for e in entries] == [["Obama"], ["unknown"], [], []]
    assert "error" in entries[3] and set(entries[0]["faces"][0]["box"]) == {"xmin", "ymin", "xmax", "ymax"}


def test_add_rename_remove(env):
    added = json.loads(run(env, "add", "Joe", str(sample_path("biden.jpg")), "--json").stdout)["people"][0]
    assert len(added["absorbed"]) == 1  # the stranger test_list_and_recognize filed is Joe: his cluster joins him
    run(env, "rename", "Joe", "Biden")
    names = [p["name"] for p in json.loads(run(env, "list", "--json").stdout)]
    assert "Biden" in names and "Joe" not in names
    assert json.loads(run(env, "remove", "Biden", "--json").stdout) == {"name": "Biden", "samples_removed": 2}
    run(env, "remove", "Biden", code=1)
    run(env, "rename", "Nobody", "X", code=1)


def test_strangers_can_be_listed_and_named(env):
    run(env, "recognize", str(sample_path("biden.jpg")))
    clusters = json.loads(run(env, "unknowns", "--json", "--recluster").stdout)
    assert clusters and clusters[0]["faces"] >= 1
    run(env, "name", str(clusters[0]["id"]), "Biden")
    entries = json.loads(run(env, "recognize", "--json", str(sample_path("biden.jpg"))).stdout)
    assert entries[0]["faces"][0]["name"] == "Biden"
    run(env, "name", "9999", "X", code=1)


def test_feedback_rejects_a_sample(env):
    sample_id = None
    from vigil.faces.gallery.gallery import Gallery

    gallery = Gallery(Path(env["VIGIL_STORE__DATA_DIR"]) / "gallery.sqlite3")
    sample_id = gallery.samples("Messi")[0][0]
    out = json.loads(run(env, "feedback", "--sample", str(sample_id), "--json").stdout)
    assert out == {"rejected_sample": sample_id, "not": "Messi"}
    run(env, "feedback", code=1)


def test_feedback_not_name_stops_the_same_mistake(env):
    """(Runs after the tests above: it changes what obama2.jpg is called in this gallery.)"""
    image = str(sample_path("obama2.jpg"))
    assert json.loads(run(env, "recognize", "--json", image).stdout)[0]["faces"][0]["name"] == "Obama"
    out = json.loads(run(env, "feedback", "--not", "Obama", image, "--json").stdout)
    assert out == {"not": "Obama", "faces": 1}
    assert json.loads(run(env, "recognize", "--json", image).stdout)[0]["faces"][0]["name"] != "Obama"
    obama = str(sample_path("obama3.jpg"))  # another picture of him, never enrolled, still matches
    assert json.loads(run(env, "recognize", "--json", obama).stdout)[0]["faces"][0]["name"] == "Obama"
    run(env, "feedback", "--not", "Nobody", image, code=1)


def test_a_face_of_someone_else_is_refused_naming_them_until_forced(env):
    """(Runs after the tests above: Obama is enrolled.) The refusal as a user sees it, from a real process."""
    import os
    import subprocess
    import sys

    obama = str(sample_path("obama3.jpg"))
    cmd = [sys.executable, "-m", "vigil.cli", "faces", "add", "Eileen", obama]
    refused = subprocess.run(cmd, env={**os.environ, "VIGIL_STORE__DATA_DIR": env["VIGIL_STORE__DATA_DIR"]},
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 3, refused.stderr
    assert "already matches Obama" in refused.stderr and "force" in refused.stderr
    assert "XNNPACK" not in refused.stderr  # TFLite's INFO line is silenced where the interpreter is made
    assert "Eileen" not in [p["name"] for p in json.loads(run(env, "list", "--json").stdout)]
    forced = json.loads(run(env, "add", "Eileen", obama, "--force", "--json").stdout)["people"][0]
    assert forced["samples"] == 1 and forced["matches"] == [{"source": obama, "matches": "Obama"}]
    samples = json.loads(run(env, "samples", "Eileen", "--json").stdout)
    mine = next(s for s in samples if s["source"] == obama)  # (with the stranger cluster of obama2.jpg it absorbed)
    assert isinstance(mine["id"], int) and len(samples) == 1 + len(forced["absorbed"])
    said = run(env, "feedback", "--sample", str(mine["id"]))
    assert said.stderr.strip() == f"recorded: sample {mine['id']} is not Eileen; it was moved to their negatives"
    run(env, "samples", "Nobody", "--json", code=1)


def test_a_corrupt_gallery_is_an_error_not_a_new_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "gallery.sqlite3").write_bytes(b"garbage" * 1000)
    result = run({"VIGIL_STORE__DATA_DIR": str(data)}, "list", code=2)
    assert "unreadable" in result.stderr
    assert (data / "gallery.sqlite3").read_bytes() == b"garbage" * 1000


def test_kill_9_during_cli_enrolment_then_rerun(tmp_path):
    """A real `vigil faces enroll` killed mid-run: committed files stay whole, no person without samples,
    and the re-run adds only what is missing."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys

    import cv2

    dataset = tmp_path / "dataset"
    photo = cv2.imread(str(sample_path("obama2.jpg")))
    for person in ("a", "b", "c"):
        (dataset / person).mkdir(parents=True)
        for k in range(8):  # distinct files (distinct hashes) of a real face
            cv2.imwrite(str(dataset / person / f"{k}.jpg"), photo[k * 4:, k * 3:], [cv2.IMWRITE_JPEG_QUALITY, 90])
    # crops of one photo are one face: counted as distinct samples of three people only when told so
    env = {**os.environ, "VIGIL_STORE__DATA_DIR": str(tmp_path / "data"), "VIGIL_FACES__ENROLL_JITTERS": "0",
           "VIGIL_FACES__SAME_FACE_DISTANCE": "0"}
    cmd = [sys.executable, "-m", "vigil.cli", "faces", "enroll", str(dataset), "--force"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    added = 0
    for line in proc.stderr:
        added += "added" in line
        if added == 5:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(tmp_path / "data" / "gallery.sqlite3") as conn:
        files = conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        samples = conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        orphans = conn.execute("SELECT COUNT(*) FROM people p WHERE NOT EXISTS "
                               "(SELECT 1 FROM samples s WHERE s.person_id = p.id)").fetchone()[0]
    assert 5 <= files < 24 and samples == files and orphans == 0
    done = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=300)
    totals = json.loads(done.stdout)["totals"]
    assert totals["skipped"] == files and totals["added"] == 24 - files


def test_enroll_tree_names_the_absorbed_clusters_past_events(tmp_path):
    """`vigil faces enroll` as `add` and the HTTP enrolments: a stranger's camera events take the enrolled name."""
    from vigil.events.log import EventLog
    from vigil.results import Event, EventChange

    env = {"VIGIL_STORE__DATA_DIR": str(tmp_path / "data")}
    run(env, "recognize", str(sample_path("biden.jpg")))  # nobody is enrolled: a stranger cluster
    (cluster,) = [c["id"] for c in json.loads(run(env, "unknowns", "--json").stdout)]
    log = EventLog(tmp_path / "data" / "events.sqlite3")
    seen = Event("door", "face", 100.0, 0.7, (1, 2, 3, 4), name="unknown", cluster_id=cluster, last_seen=100.0)
    log.save([EventChange("new", seen)])
    (tmp_path / "dataset" / "Biden").mkdir(parents=True)
    shutil.copy(sample_path("biden.jpg"), tmp_path / "dataset" / "Biden" / "biden.jpg")
    enrolled = json.loads(run(env, "enroll", str(tmp_path / "dataset"), "--json").stdout)["people"][0]
    assert enrolled["absorbed"] == [cluster] and log.get(seen.id).name == "Biden"
    log.close()
