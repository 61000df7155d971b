"""Tracking on real frames with the real detector: MOT metrics on 60 hand-boxed frames of vtest.avi, and a camera
pan across a still photo where the truth is known by construction (one track per person, exact line counts)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import FIXTURES, fixture_image, jpeg
from tests.tracks.mot import CLIP, mot_metrics, truth_by_frame
from vigil.config.cameras import CameraConfig
from vigil.imaging import images
from vigil.ops.nms import iou_matrix
from vigil.sources.frames import FolderSource
from vigil.sources.reader import open_source
from vigil.tracks.pipeline import TrackOptions, track_source
from vigil.tracks.tracker import view_quality

PAN_STEP, WINDOW = 8, 384  # the camera pans 8 px a frame, right, over a 384 px wide window of the 768 px photo


def per_frame(report) -> dict[int, dict[int, list[float]]]:
    frames: dict[int, dict[int, list[float]]] = {}
    for track in report.tracks:
        for frame, _, box, _ in track.boxes:
            frames.setdefault(frame, {})[track.id] = list(box)
    return frames


@pytest.fixture(scope="module")
def clip_report(pipeline):
    return track_source(pipeline, open_source(str(CLIP)), CameraConfig(), TrackOptions(labels=["person"]))


def test_mot_metrics_on_the_hand_boxed_clip(clip_report):
    """Measured with the default detector (yolov4-tiny int8, 512, the second look): IDF1 0.702, MOTA 0.709, 4 id
    switches (the single pass: 0.709, 0.701, 2; the switches are two men who pass each other and shake hands behind a
    sign post); the bars leave room for another CPU's int8 rounding."""
    metrics = mot_metrics(per_frame(clip_report), truth_by_frame(), clip_report.frames)
    assert clip_report.frames == clip_report.analysed == 60
    assert metrics["idf1"] >= 0.65 and metrics["mota"] >= 0.62, metrics
    assert metrics["num_switches"] <= 6, metrics  # 4 here; room of 2, as when the single pass measured 2 under 4


def test_walkers_are_not_stationary_and_tracks_keep_their_best_view(clip_report):
    long = [t for t in clip_report.tracks if len(t.boxes) >= 20]
    assert len(long) >= 4
    walking = [t for t in long if t.last_frame < 59 or not clip_report.stationary[t.id]]
    assert walking, "every long track was called stationary, yet everyone in the clip walks"
    for track in long:
        _, _, box, score = track.boxes[track.best]
        assert track.best_crop is not None and track.best_crop.shape[2] == 3
        assert view_quality(box, score) == max(view_quality(b, s) for _, _, b, s in track.boxes)


@pytest.fixture(scope="module")
def pan_folder(tmp_path_factory):
    """A camera panning right across vtest_000.jpg: each person slides left through the window, PAN_STEP a frame."""
    photo = images.load(fixture_image("vtest_000.jpg")).pixels
    folder = tmp_path_factory.mktemp("pan")
    for i, x in enumerate(range(0, photo.shape[1] - WINDOW + 1, PAN_STEP)):
        (folder / f"frame_{i:03d}.jpg").write_bytes(jpeg(np.ascontiguousarray(photo[:, x:x + WINDOW])))
    people = json.loads((FIXTURES / "vtest_people.json").read_text())["frames"]["vtest_000.jpg"]["boxes"]
    return folder, np.array(people, dtype=np.float32)


@pytest.mark.parametrize("reverse", [False, True], ids=["pan-right", "pan-left"])
def test_a_camera_pan_gives_one_track_per_person_and_exact_line_counts(pipeline, pan_folder, tmp_path, reverse):
    folder, people = pan_folder
    if reverse:  # the same frames played backwards: the camera pans left and everyone crosses the other way
        names = sorted(folder.iterdir())
        for i, path in enumerate(reversed(names)):
            (tmp_path / f"frame_{i:03d}.jpg").write_bytes(path.read_bytes())
        folder = tmp_path
    camera = CameraConfig(lines={"mid": {"points": [(WINDOW / 2, 0), (WINDOW / 2, 576)]}})
    report = track_source(pipeline, FolderSource(folder, fps=10), camera, TrackOptions(labels=["person"]))
    offsets = [i * PAN_STEP for i in range(report.frames)][:: -1 if reverse else 1]
    owner: dict[int, set[int]] = {}  # person → the track ids that matched them
    for track in report.tracks:
        for frame, _, box, _ in track.boxes:
            truth = people - np.array([offsets[frame], 0, offsets[frame], 0], dtype=np.float32)
            overlap = iou_matrix(np.array([box]), truth)[0]
            if overlap.max() >= 0.5:
                owner.setdefault(int(overlap.argmax()), set()).add(track.id)
    assert all(len(ids) == 1 for ids in owner.values()), f"a person changed id: {owner}"
    assert len(report.tracks) == len(owner) == 3, [(t.id, t.first_frame, t.last_frame) for t in report.tracks]
    # the feet at x 268 and 513 of the photo cross the window's middle (192) during the pan; the one at 663 never
    assert report.lines["mid"] == ({"in": 0, "out": 2} if reverse else {"in": 2, "out": 0})
