"""Motion regions as second-look evidence: where a stream's frame changed, the detector looks closer, so people too
small for its first pass are found on a camera whose far walkers give no doubtful candidate at all. Real detector,
the suite's vtest clip shrunk into a 1080p view of its own empty scene (the people 40-70 px tall)."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from tests.tracks.mot import CLIP, truth_by_frame
from vigil.config.tasks import DetectConfig
from vigil.imaging.images import DecodedImage
from vigil.ops.matching import MatchCounts, match
from vigil.results import Detections
from vigil.sources.motion import MotionGate
from vigil.tasks.detect import DetectParams
from vigil.tasks.second_look import LookPlan

WIDTH, HEIGHT, SHRINK, AT = 1920, 1080, 0.6, (600, 200)
PERSON = DetectParams(labels="person")


@pytest.fixture(scope="module")
def distant():
    """Every 3rd frame of the clip, shrunk into the empty scene (the clip's median, enlarged), with its truth."""
    frames = [f.to_ndarray(format="rgb24") for f in av.open(str(CLIP)).decode(video=0)]
    scene = cv2.resize(np.median(np.stack(frames[::4]), axis=0).astype(np.uint8), (WIDTH, HEIGHT))
    truth = truth_by_frame()
    out = []
    for index in range(0, 30, 3):
        canvas = scene.copy()
        small = cv2.resize(frames[index], None, fx=SHRINK, fy=SHRINK, interpolation=cv2.INTER_AREA)
        canvas[AT[1]:AT[1] + small.shape[0], AT[0]:AT[0] + small.shape[1]] = small
        boxes = np.array([[b[0] * SHRINK + AT[0], b[1] * SHRINK + AT[1], b[2] * SHRINK + AT[0],
                           b[3] * SHRINK + AT[1]] for b in truth.get(index, {}).values()]).reshape(-1, 4)
        out.append((index, canvas, boxes))
    return out


def test_moving_blobs_are_reported_where_the_frame_changed():
    gate = MotionGate()
    still = np.full((480, 640, 3), 90, np.uint8)
    assert gate.wants(still, 0.0) and len(gate.moved) == 0  # the first frame: nothing to compare with
    walker = still.copy()
    walker[100:180, 300:330] = 230
    speck = walker.copy()
    speck[400, 600] = 0  # one pixel: noise, not a blob
    assert gate.wants(speck, 0.2)
    assert len(gate.moved) == 1
    x0, y0, x1, y1 = gate.moved[0]
    assert x0 <= 300 and y0 <= 100 and x1 >= 330 and y1 >= 180 and x1 - x0 < 60 and y1 - y0 < 120


@pytest.mark.parametrize(("moved", "found", "expected"), [
    ([], [], 0),  # no evidence, no window
    ([[500, 300, 520, 340]], [], 1),  # a moving blob nobody explains
    ([[500, 300, 520, 340]], [[400, 100, 640, 700, 0.9]], 0),  # on a person the first pass found (not small)
    ([[0, 0, 1500, 900]], [], 0),  # a change bigger than a window (light, a pan): nothing to look closer at
])
def test_moving_blobs_ask_for_windows(moved, found, expected):
    plan = LookPlan.from_config(DetectConfig())
    rows = np.array(found, np.float32).reshape(-1, 5)
    first = Detections(rows[:, :4], rows[:, 4], np.zeros(len(rows), np.int64))
    windows = plan.windows_for(first, 0.4, 512 / 1920, 1920, 1080, np.array(moved, np.float32).reshape(-1, 4))
    assert len(windows) == expected
    for x0, y0, x1, y1 in windows:
        assert x0 <= 510 <= x1 and y0 <= 320 <= y1


def test_far_walkers_are_found_where_the_stream_moved(pipeline, distant):
    gate = MotionGate(keyframe_s=1e9)
    with_motion, without = MatchCounts(), MatchCounts()
    for _, canvas, truth in distant:
        gate.wants(canvas, 0.0)
        for moved, counts in ((gate.moved, with_motion), (None, without)):
            found = pipeline.detect_frame(DecodedImage(canvas, WIDTH, HEIGHT, moved), PERSON)
            counts += match(found.xyxy, found.score, truth, iou=0.4)
    assert without.recall < 0.5 and with_motion.recall >= 0.6, (without, with_motion)
    assert with_motion.precision >= 0.9, with_motion
