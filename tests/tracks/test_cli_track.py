"""`vigil track` as a user runs it (a real subprocess, one JSON document on stdout), with motion gating measured:
on a quiet scene nearly every frame is skipped, on the hand-boxed clip with people nobody is lost because of it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import fixture_image, jpeg
from tests.tracks.mot import CLIP, truth_by_frame
from vigil.imaging import images
from vigil.ops.nms import iou_matrix

VIGIL = [sys.executable, "-m", "vigil.cli"]
QUIET_FRAMES = 30  # 6 s at 5 frames a second (--fps 5 is a folder's frame rate): frame 0 and the 5 s keyframe run


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*VIGIL, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def quiet_folder(tmp_path_factory):
    """A still camera on a quiet scene: the same view with sensor noise (σ 2 grey levels) and JPEG each frame."""
    photo = images.load(fixture_image("vtest_000.jpg")).pixels.astype(np.float32)
    folder = tmp_path_factory.mktemp("quiet")
    rng = np.random.default_rng(7)
    for i in range(QUIET_FRAMES):
        noisy = np.clip(photo + rng.normal(0, 2, photo.shape), 0, 255).astype(np.uint8)
        (folder / f"{i:03d}.jpg").write_bytes(jpeg(noisy))
    return folder


@pytest.fixture(scope="module")
def gated(quiet_folder, store):
    done = run("track", str(CLIP), str(quiet_folder), "--motion-gate", "--fps", "5", "--labels", "person", "--json",
               "--line", "mid=384,0,384,576", "--zone", "door=300,150,500,150,500,350,300,350", "--loiter-s", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_document_has_the_issue_s_shape(gated):
    clip, quiet = gated
    assert clip["source"] == str(CLIP) and clip["frames"] == 60 and clip["analysed"] <= 30  # --fps 5 of 10
    track = clip["tracks"][0]
    assert {"id", "label", "first_frame", "last_frame", "stationary", "boxes", "best"} <= set(track)
    assert track["label"] == "person" and isinstance(track["stationary"], bool)
    assert set(clip["lines"]["mid"]) == {"in", "out"}
    door = clip["zones"]["door"]
    assert door["max"]["person"] >= 2 and all(float(v) >= 0 for v in door["dwell_s"].values())
    assert set(door["dwell_s"]) <= {str(t["id"]) for t in clip["tracks"]}
    assert set(door["loitering"]) <= {int(k) for k, v in door["dwell_s"].items() if v >= 1}
    assert quiet["frames"] == QUIET_FRAMES and quiet["width"] == 768


def test_motion_gating_skips_a_quiet_scene_and_keeps_its_still_people(gated):
    quiet = gated[1]
    assert quiet["skipped_by_motion"] == QUIET_FRAMES - 2 and quiet["analysed"] == 2  # frame 0 and the 5 s keyframe
    still = [t for t in quiet["tracks"] if t["first_frame"] == 0 and t["last_frame"] == 25]
    assert len(still) >= 2 and all(t["stationary"] for t in still)


def test_motion_gating_loses_nobody_on_footage_with_people(gated):
    """Every hand-boxed person has a track matching them on at least one frame, as without gating."""
    clip = gated[0]
    truth = truth_by_frame()
    found = set()
    for track in clip["tracks"]:
        for frame, *box, _ in track["boxes"]:
            people = truth.get(frame, {})
            if people:
                overlap = iou_matrix(np.array([box]), np.array(list(people.values())))[0]
                found |= {p for p, o in zip(people, overlap, strict=True) if o >= 0.5}
    assert found == {"A", "B", "C", "D", "E", "F"}


def test_a_shape_outside_the_frame_is_a_clear_error(store):
    done = run("track", str(CLIP), "--json", "--line", "mid=0,0,900,0")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "--line mid: lies outside the 768×576 frame" in done.stderr.replace("\n", " ") and done.stdout == ""


@pytest.mark.parametrize(("text", "pairs", "message"), [
    ("door=0,0,10,10", None, "--zone door: a zone needs at least 3 points, got 2"),
    ("door=0,0,10,x,5,5", None, "--zone door: coordinates must be numbers"),
    ("door", None, "--zone door: expected NAME=x1,y1,x2,y2,..."),
    ("mid=0,0,1,1,2,2", 2, "--line mid: a line is exactly 2 points, got 3"),
])
def test_shape_options_are_parsed_with_messages_naming_them(text, pairs, message):
    from vigil.cli.track import parse_shape
    from vigil.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_shape("line" if pairs else "zone", text, pairs)
