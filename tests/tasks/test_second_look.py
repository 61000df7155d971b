"""The detector's second look (profile second_look, the default) with the real detector on real frames: distant people
on the beach photo, no double counts on the street frames, the window cap, and frames that must cost only the first
pass (sky, a 1-px-wide image, an image at the pixel limit)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from tests.conftest import FIXTURES, fixture_image, jpeg
from vigil.config.settings import VigilConfig
from vigil.config.tasks import DetectConfig, ModelThresholds
from vigil.execute.local import Inline
from vigil.imaging import images
from vigil.ops.matching import MatchCounts, match
from vigil.ops.nms import inside_matrix, iou_matrix
from vigil.results import Detections
from vigil.tasks.detect import DetectParams, DetectRunner
from vigil.tasks.second_look import LookPlan, context_windows

PEOPLE = json.loads((FIXTURES / "vtest_people.json").read_text())["frames"]
COUNTS = json.loads((FIXTURES / "people_counts.json").read_text())["counts"]
PERSON = DetectParams(labels="person")


@pytest.fixture(scope="module")
def fast(store):
    return Inline(VigilConfig(detect=DetectConfig(profile="fast")), store).setup()


class Counting:
    """The loaded detector, counting the frames each session run gets (the real run, passed through)."""

    def __init__(self, runner: DetectRunner) -> None:
        self.runner, self.frames = runner, []
        self.infer = runner.detector.infer

    def __enter__(self) -> Counting:
        self.runner.detector.infer = self._infer
        return self

    def __exit__(self, *exc) -> None:
        self.runner.detector.infer = self.infer

    def _infer(self, tensor):
        self.frames.append(len(tensor))
        return self.infer(tensor)


def people(executor: Inline, source) -> np.ndarray:
    result, _ = executor.detect(source, params=PERSON)
    assert result.ok, result.error
    return result.detections.xyxy


def test_default_profile_is_the_second_look():
    assert VigilConfig().detect.profile == "second_look"


def test_beach_photo_distant_people_found_without_extra_boxes(pipeline, fast):
    """kite.jpg: 2 near people and 8 distant ones. One pass finds the near two; the second look at least 8 of 10,
    in no more than 11 boxes."""
    assert len(people(fast, fixture_image("kite.jpg"))) <= 3
    found = people(pipeline, fixture_image("kite.jpg"))
    assert 8 <= len(found) <= 11 and COUNTS["kite.jpg"] == 10
    assert (found[:, 3] - found[:, 1] < 80).sum() >= 6  # the distant ones, found where they stand


def test_street_frames_gain_recall_without_double_counts(pipeline, fast):
    ours, single = MatchCounts(), MatchCounts()
    for name, truth in PEOPLE.items():
        found, one_pass = people(pipeline, fixture_image(name)), people(fast, fixture_image(name))
        ours += match(found, np.ones(len(found)), np.array(truth["boxes"]), iou=0.5)
        single += match(one_pass, np.ones(len(one_pass)), np.array(truth["boxes"]), iou=0.5)
        overlap = np.maximum(iou_matrix(found, found), inside_matrix(found, found))
        np.fill_diagonal(overlap, 0)
        assert overlap.max(initial=0) <= 0.7, name  # one person, one box
    assert ours.true_positives >= single.true_positives and ours.recall >= 0.93, (ours, single)
    assert ours.precision >= 0.95, ours


def test_a_player_seen_from_behind_at_the_frame_edge_is_found_by_a_context_window(pipeline, fast):
    """basketball1.png: the player at the right edge, back turned, scores about 0.2 in the whole frame; the second
    look sees the doubtful box whole and centred, and names both players, with no third box."""
    assert len(people(fast, fixture_image("basketball1.png"))) == 1
    found = people(pipeline, fixture_image("basketball1.png"))
    assert len(found) == COUNTS["basketball1.png"] == 2
    assert found[:, 0].max() > 400 and found[:, 2].min() < 200  # one at each side


@pytest.mark.parametrize(("boxes", "scores", "limit", "expected"), [
    ([[100, 100, 200, 300]], [0.2], 2, [(0, 0, 300, 400)]),  # margin half the longer side (100), clipped
    ([[100, 100, 200, 300], [110, 110, 210, 310]], [0.2, 0.3], 2, [(10, 10, 310, 410)]),  # one per place, surest
    ([[10, 10, 50, 90], [300, 100, 380, 260]], [0.2, 0.3], 1, [(220, 20, 460, 340)]),  # the limit, surest first
    ([], [], 2, []),
])
def test_context_windows(boxes, scores, limit, expected):
    doubtful = Detections(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32),
                          np.zeros(len(scores), np.int64))
    assert context_windows(doubtful, 640, 480, limit) == expected


def test_windows_never_exceed_the_cap(pipeline):
    loaded = pipeline.runner("detect")
    look = LookPlan.from_config(DetectConfig(look_windows=2))
    capped = DetectRunner(loaded.detector, loaded.thresholds, loaded.iou, look=look)
    frame = images.load(fixture_image("vtest_120.jpg"), fit=(512, 512))
    with Counting(capped) as counting:
        capped.run_batch([capped.prepare(frame, PERSON)])
    assert counting.frames[0] == 1 and 1 <= sum(counting.frames[1:]) <= 2, counting.frames


@pytest.mark.parametrize("shape", [(300, 1), (1, 300)])
def test_a_one_pixel_wide_image_gets_an_answer(pipeline, shape):
    sliver = np.full((*shape, 3), 120, np.uint8)
    with Counting(pipeline.runner("detect")) as counting:
        assert len(people(pipeline, cv2.imencode(".png", sliver)[1].tobytes())) == 0
    assert counting.frames == [1]  # the first pass only


def test_an_all_sky_frame_costs_only_the_first_pass(pipeline):
    sky = cv2.cvtColor(cv2.imread(str(fixture_image("kite.jpg"))), cv2.COLOR_BGR2RGB)[:230, 700:]
    with Counting(pipeline.runner("detect")) as counting:
        assert len(people(pipeline, jpeg(np.ascontiguousarray(sky)))) == 0
    assert counting.frames == [1]


def test_an_image_at_the_pixel_limit_is_decoded_small_and_capped(pipeline):
    """7680 × 4320 (the pixel limit): the JPEG is decoded reduced, and the second look stays within its cap."""
    street = cv2.imread(str(fixture_image("vtest_120.jpg")))
    huge = cv2.resize(street, (7680, 4320), interpolation=cv2.INTER_NEAREST)
    data = cv2.imencode(".jpg", huge, [cv2.IMWRITE_JPEG_QUALITY, 60])[1].tobytes()
    runner = pipeline.runner("detect")
    with Counting(runner) as counting:
        result, frame = pipeline.detect(data, params=PERSON)
    assert result.ok and (result.width, result.height) == (7680, 4320) and frame.pixels.shape[1] <= 1920
    assert counting.frames[0] == 1 and sum(counting.frames[1:]) <= runner.look.windows
    assert len(result.detections) >= 3 and result.detections.xyxy[:, 2].max() > 3840  # boxes in original pixels


def test_fast_profile_is_one_pass(fast):
    with Counting(fast.runner("detect")) as counting:
        people(fast, fixture_image("vtest_120.jpg"))
    assert counting.frames == [1]


def test_no_second_look_for_a_detector_whose_class_0_is_not_a_person(pipeline):
    from vigil.tasks.detect import ObjectDetector

    loaded = pipeline.runner("detect").detector
    assert pipeline.runner("detect").look.active
    other = ObjectDetector(loaded.spec, loaded.session, ("car", *loaded.labels[1:]))
    assert not DetectRunner(other, ModelThresholds(), 0.45, look=pipeline.runner("detect").look).look.active
