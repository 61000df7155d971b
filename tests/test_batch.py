"""`vigil batch`: the same entries as `vigil detect --json`, in Ray actors, resumable, videos and Parquet.

One local Ray instance (2 CPUs) serves the whole session; the command joins it as `--ray auto` would a cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
from typer.testing import CliRunner

from tests.conftest import fixture_image
from vigil.cli.main import app

VIGIL = [sys.executable, "-m", "vigil.cli"]
NAMES = ["dog.jpg", "person.jpg", "vtest_000.jpg", "vtest_060.jpg", "horses.jpg", "messi5.jpg"]


def batch(*args: str) -> dict:
    done = CliRunner().invoke(app, ["batch", *args, "--json"])
    assert done.exit_code == 0, (done.output, done.exception)
    return json.loads(done.stdout)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_ray_batch_gives_exactly_what_detect_json_gives(tmp_path, store, local_ray):
    images = [str(fixture_image(n)) for n in NAMES]
    detect = subprocess.run([*VIGIL, "detect", *images, "--json"], capture_output=True, text=True, timeout=120)
    assert detect.returncode == 0, detect.stderr
    report = batch(*images, "--out", str(tmp_path / "r.jsonl"), "--ray", "auto")
    assert report["runner"] == "ray" and report["processed"] == len(images)
    entries = lines(tmp_path / "r.jsonl")
    workers = [e.pop("worker") for e in entries]
    added = [(e.pop("frame"), e.pop("camera"), e.pop("time")) for e in entries]  # a row's own fields (issue 19)
    assert all(frame is None and isinstance(camera, str) and t > 0 for frame, camera, t in added)
    assert entries == json.loads(detect.stdout)  # same order, same boxes to the last float
    assert os.getpid() not in {w["pid"] for w in workers}  # the work ran in Ray actors, in other processes
    assert all(len(w["actor"]) == 32 for w in workers)  # hex ids: only set inside a Ray actor


def test_an_interrupted_run_resumes_on_ray_without_repeats(tmp_path, store, local_ray):
    folder = tmp_path / "events" / "2026-11-21"
    folder.mkdir(parents=True)
    for i in range(24):
        shutil.copy(fixture_image(NAMES[i % len(NAMES)]), folder / f"{i:03d}.jpg")
    out = tmp_path / "r.jsonl"
    first = subprocess.Popen([*VIGIL, "batch", str(tmp_path / "events"), "--out", str(out), "--workers", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while (not out.exists() or out.read_text().count("\n") < 6) and time.monotonic() < deadline:
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = out.read_text().count("\n")
    assert 6 <= before < 24, "interrupted too late to test resuming"
    report = batch(str(tmp_path / "events"), "--out", str(out), "--ray", "auto")
    assert (report["skipped"], report["processed"]) == (before, 24 - before)
    entries = lines(out)
    assert [e["image"] for e in entries] == [str(p) for p in sorted(folder.iterdir())]  # each once, in order
    assert sum(1 for e in entries if e["worker"]["actor"]) == 24 - before  # only the rest ran again
    assert batch(str(tmp_path / "events"), "--out", str(out), "--ray", "auto")["processed"] == 0


def test_video_sampled_at_fps_into_parquet_with_faces(tmp_path, store):
    from vigil.config.settings import VigilConfig

    for name in (VigilConfig().faces.detector, VigilConfig().faces.embedder):
        store.pull(name)  # a no-op after `make models`
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))
    for name in ("vtest_000.jpg", "vtest_060.jpg", "vtest_120.jpg"):
        frame = cv2.resize(cv2.imread(str(fixture_image(name))), (768, 576))
        for _ in range(10):
            writer.write(frame)
    writer.release()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a picture")
    out = tmp_path / "r.parquet"
    messi = fixture_image("messi5.jpg")
    report = batch(str(video), str(broken), str(messi), "--out", str(out), "--fps", "1", "--workers", "1",
                   "--tasks", "detect,faces")
    assert (report["images"], report["errors"]) == (5, 1)  # one bad item fails only itself
    import pyarrow.parquet as pq

    entries = pq.read_table(out).to_pylist()  # real columns, one row per image
    assert [(e["frame"], e["time"]) for e in entries[:3]] == [(0, 0.0), (10, 1.0), (20, 2.0)]
    assert all(any(label["name"] == "person" for label in e["labels"]) for e in entries[:3])
    assert entries[3]["image"] == str(broken) and "not a recognised image" in entries[3]["error"]
    people = [label for label in entries[4]["labels"] if label["name"] == "person"]
    assert people and all("face" in label and "faceProba" in label for label in people)  # detect_faces' fields
    assert not (tmp_path / "r.parquet.jsonl").exists()  # the journal is gone once the Parquet file is whole


def test_crowd_fields_are_what_vigil_crowd_count_gives(tmp_path, store):
    images = [str(fixture_image(n)) for n in ("vtest_120.jpg", "dog.jpg")]
    counted = CliRunner().invoke(app, ["crowd", "count", *images, "--json"])
    assert counted.exit_code == 0, counted.output
    expected = [{k: v for k, v in e.items() if k not in ("image", "width", "height")}
                for e in json.loads(counted.stdout)]
    broken = tmp_path / "cut.jpg"
    broken.write_bytes(fixture_image("dog.jpg").read_bytes()[:2000])
    report = batch(*images, str(broken), "--out", str(tmp_path / "r.jsonl"), "--tasks", "detect,crowd",
                   "--workers", "1")
    assert (report["images"], report["errors"]) == (3, 1)
    entries = lines(tmp_path / "r.jsonl")
    assert [e["crowd"] for e in entries[:2]] == expected
    assert expected[0]["count"] >= 5 and expected[1]["count"] == 0  # vtest_120 has people; the dog photo has none
    assert "crowd" not in entries[2] and "error" in entries[2]  # a cut file fails only itself


def test_detect_presence_crowd_rows_for_data_tools(tmp_path, store):
    """Any registered tasks (issue 19): the seed fields stay at the top, each other task is a key (JSONL) or a struct
    column (Parquet) named after it; camera from the folder tree, time from the file's mtime."""
    import os

    import pyarrow.parquet as pq

    tree = tmp_path / "events"
    for camera, name in (("porch", "vtest_120.jpg"), ("yard", "giraffe.jpg")):
        (tree / camera).mkdir(parents=True)
        (tree / camera / name).write_bytes(fixture_image(name).read_bytes())
        os.utime(tree / camera / name, (1_750_000_000, 1_750_000_000))
    (tree / "yard" / "cut.jpg").write_bytes(fixture_image("dog.jpg").read_bytes()[:2000])
    report = batch(str(tree), "--out", str(tmp_path / "r.jsonl"), "--tasks", "detect,presence,crowd",
                   "--workers", "1")
    assert (report["images"], report["errors"]) == (3, 1)
    porch, cut, yard = lines(tmp_path / "r.jsonl")  # input order: the tree sorted
    assert porch["camera"] == "porch" and yard["camera"] == "yard" and porch["time"] == 1_750_000_000.0
    assert porch["frame"] is None and porch["image"].endswith("porch/vtest_120.jpg")
    assert any(label["name"] == "person" for label in porch["labels"])
    assert porch["presence"]["person"] is True and porch["crowd"]["count"] >= 5
    assert yard["presence"]["person"] is False and yard["crowd"]["count"] == 0
    assert "error" in cut and "presence" not in cut  # fails only itself
    parquet = tmp_path / "r.parquet"
    batch(str(tree), "--out", str(parquet), "--tasks", "detect,presence,crowd", "--workers", "1")
    table = pq.read_table(parquet)
    types = {f.name: str(f.type) for f in table.schema}
    assert types["image"] == types["camera"] == "string" and types["frame"] == "int64" and types["time"] == "double"
    assert types["labels"].startswith("list<") and "box: struct<" in types["labels"]
    assert types["presence"].startswith("struct<") and types["crowd"].startswith("struct<")
    rows = table.to_pylist()
    assert rows[0]["presence"]["person"] is True and rows[0]["crowd"]["count"] == porch["crowd"]["count"]
    assert rows[0]["labels"][0]["name"] == porch["labels"][0]["name"]


def test_unknown_task_is_refused_with_the_known_ones(tmp_path):
    result = CliRunner().invoke(app, ["batch", str(fixture_image("dog.jpg")), "--out", str(tmp_path / "r.jsonl"),
                                      "--tasks", "detect,presense"])
    assert result.exit_code == 2 and "presense" in result.output and "presence" in result.output
