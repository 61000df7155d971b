"""Shared numeric pieces of the face pipeline: SSD anchors, BlazeFace decoding, weighted NMS, the focus
measure, stranger clustering, and the dlib → ONNX converter's refusal of a wrong file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vigil.errors import ModelIntegrityError
from vigil.ops.anchors import BLAZEFACE_FULL_RANGE, BLAZEFACE_SHORT_RANGE, decode_blazeface, ssd_anchors
from vigil.ops.cluster import agglomerate
from vigil.ops.focus import laplacian_variance
from vigil.ops.nms import weighted_nms
from vigil.registry.dlib_onnx import dlib_resnet_to_onnx
from vigil.tasks.face_detect import _tiles


@pytest.mark.parametrize(("cfg", "count", "first"), [
    (BLAZEFACE_FULL_RANGE, 48 * 48, (0.5 / 48, 0.5 / 48)),  # one anchor per cell of a 48×48 grid
    (BLAZEFACE_SHORT_RANGE, 16 * 16 * 2 + 8 * 8 * 6, (0.5 / 16, 0.5 / 16)),  # MediaPipe's 896
])
def test_ssd_anchors(cfg, count, first):
    anchors = ssd_anchors(cfg)
    assert anchors.shape == (count, 2) and np.allclose(anchors[0], first)
    assert anchors.min() > 0 and anchors.max() < 1


def test_decode_blazeface_places_a_box_on_its_anchor():
    anchors = ssd_anchors(BLAZEFACE_FULL_RANGE)
    raw_boxes = np.zeros((1, len(anchors), 16), np.float32)
    raw_scores = np.full((1, len(anchors), 1), -10.0, np.float32)
    k = 48 * 10 + 20  # row 10, column 20
    raw_boxes[0, k, :4] = [2.0, -1.0, 40.0, 30.0]  # dx, dy, w, h in input pixels
    raw_boxes[0, k, 4:6] = [-5.0, -3.0]  # first keypoint offset
    raw_scores[0, k, 0] = 3.0
    xyxy, score, kps = decode_blazeface(raw_boxes, raw_scores, anchors, BLAZEFACE_FULL_RANGE, 0.5)
    cx, cy = (20.5 / 48) * 192 + 2, (10.5 / 48) * 192 - 1
    assert np.allclose(xyxy, [[cx - 20, cy - 15, cx + 20, cy + 15]], atol=1e-4)
    assert np.isclose(score[0], 1 / (1 + np.exp(-3.0))) and np.allclose(kps[0, 0], [cx - 2 - 5, cy + 1 - 3])


def test_weighted_nms_averages_overlapping_boxes_by_score():
    xyxy = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], np.float32)
    boxes, scores, leaders = weighted_nms(xyxy, np.array([0.9, 0.3, 0.8], np.float32), 0.3)
    assert list(leaders) == [0, 2] and np.allclose(scores, [0.9, 0.8])
    assert np.allclose(boxes[0], [0.5, 0, 10.5, 10])  # (0.9·0 + 0.3·2) / 1.2


def test_weighted_nms_of_nothing():
    boxes, scores, leaders = weighted_nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    assert boxes.shape == (0, 4) and len(scores) == len(leaders) == 0


def test_focus_measure_separates_sharp_from_blurred_and_ignores_resolution():
    rng = np.random.default_rng(0)
    sharp = cv2.resize(rng.integers(0, 255, (64, 64), dtype=np.uint8), (128, 128), interpolation=cv2.INTER_NEAREST)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 3)
    assert laplacian_variance(sharp) > 200 > laplacian_variance(blurred)
    big = cv2.resize(sharp, (512, 512), interpolation=cv2.INTER_CUBIC)  # the same face, 4× the pixels
    assert laplacian_variance(big) < laplacian_variance(sharp) / 4  # raw: the bigger copy looks "blurrier"
    assert laplacian_variance(big, max_width=128) > laplacian_variance(sharp) / 2  # shrunk first: comparable
    assert laplacian_variance(np.zeros((0, 0, 3), np.uint8)) == 0.0


@pytest.mark.parametrize(("size", "tiles"), [((300, 200), 0), ((768, 576), 12), ((2333, 1434), 12)])
def test_tiles_cover_the_frame(size, tiles):
    found = _tiles(*size, 256)
    assert len(found) == tiles
    if found:
        assert min(t[0] for t in found) == 0 and max(t[2] for t in found) == size[0]
        assert min(t[1] for t in found) == 0 and max(t[3] for t in found) == size[1]


def test_agglomerate_finds_the_groups():
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 0.1, (3, 128))
    points = np.concatenate([c + rng.normal(0, 0.01, (5, 128)) for c in centres])
    labels = agglomerate(points.astype(np.float32), 0.5)
    assert len(set(labels)) == 3 and all(len(set(labels[i * 5:(i + 1) * 5])) == 1 for i in range(3))
    assert len(agglomerate(np.zeros((0, 128), np.float32), 0.5)) == 0


def test_converter_refuses_a_file_that_is_not_the_face_resnet(tmp_path):
    bogus = tmp_path / "model.dat"
    bogus.write_bytes(b"\x01\x02" + bytes(range(256)) * 100)
    with pytest.raises(ModelIntegrityError):
        dlib_resnet_to_onnx(bogus, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()
