"""Decoders fed tensors whose right answer is known, so a wrong decode fails."""

import numpy as np
import pytest

from vigil.ops.ssd import decode_ssd_coral, order_ssd_outputs
from vigil.ops.yolo import decode_darknet, decode_yolov5, decode_yolov8


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def test_darknet_head_decodes_one_cell():
    head = {"anchors": [[10, 14], [23, 27]], "classes": 3, "scale_x_y": 1.0}
    raw = np.full((1, 2 * 8, 4, 4), -20.0, np.float32)  # every cell: objectness ~0
    cell = raw[0].reshape(2, 8, 4, 4)
    cell[1, :, 2, 1] = [0.0, 0.0, np.log(2.0), 0.0, _logit(0.9), -20, _logit(0.8), -20]  # anchor 1, row 2, col 1
    found = decode_darknet([raw], [head], input_w=128, input_h=128, min_score=0.5)
    assert found.class_id.tolist() == [1]
    assert found.score[0] == pytest.approx(0.72, abs=1e-4)
    # centre = (0.5 + col) * stride = 48, (0.5 + row) * 32 = 80; w = 2 × 23, h = 27
    np.testing.assert_allclose(found.xyxy[0], [48 - 23, 80 - 13.5, 48 + 23, 80 + 13.5], atol=1e-3)


def test_darknet_scale_x_y_stretches_offsets():
    head = {"anchors": [[10, 10]], "classes": 1, "scale_x_y": 1.05}
    raw = np.full((1, 6, 1, 1), 30.0, np.float32)  # sigmoid ≈ 1: offset = 1.05 − 0.025 = 1.025 cells
    raw[0, 2:4] = 0.0  # box size = the anchor
    found = decode_darknet([raw], [head], 32, 32, 0.5)
    centre_x = (found.xyxy[0, 0] + found.xyxy[0, 2]) / 2
    assert centre_x == pytest.approx(1.025 * 32, abs=1e-3)


def test_yolov5_rows():
    rows = np.array([[[50, 60, 20, 40, 0.9, 0.1, 0.8], [10, 10, 4, 4, 0.2, 0.9, 0.1]]], np.float32)
    found = decode_yolov5(rows, min_score=0.5)
    assert found.class_id.tolist() == [1]
    np.testing.assert_allclose(found.xyxy, [[40, 40, 60, 80]])
    assert found.score[0] == pytest.approx(0.72)


def test_yolov8_columns():
    cols = np.array([[[50, 10], [60, 10], [20, 4], [40, 4], [0.1, 0.3], [0.7, 0.2]]], np.float32)  # (1, 4+2, 2)
    found = decode_yolov8(cols, min_score=0.5)
    assert found.class_id.tolist() == [1]
    np.testing.assert_allclose(found.xyxy, [[40, 40, 60, 80]])


def test_ssd_coral_layout_in_any_order():
    boxes = np.array([[[0.1, 0.2, 0.5, 0.6], [0, 0, 1, 1], [0, 0, 0, 0]]], np.float32)
    classes = np.array([[3, 0, 0]], np.float32)
    scores = np.array([[0.9, 0.3, 0.0]], np.float32)
    count = np.array([2], np.float32)
    for outputs in ([boxes, classes, scores, count], [boxes, scores, classes, count], [count, scores, boxes, classes]):
        found = decode_ssd_coral(order_ssd_outputs(outputs), 300, 200, min_score=0.5)
        assert found.class_id.tolist() == [3]
        np.testing.assert_allclose(found.xyxy, [[60, 20, 180, 100]], atol=1e-4)
