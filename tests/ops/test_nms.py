import numpy as np
import pytest

from vigil.ops.matching import match
from vigil.ops.nms import iou_matrix, nms


@pytest.mark.parametrize(
    ("boxes", "scores", "classes", "kept"),
    [
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.9, 0.8], [0, 0], [0]),  # same class, overlapping: one survives
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.9, 0.8], [0, 1], [0, 1]),  # different classes never suppress
        ([[0, 0, 10, 10], [20, 20, 30, 30]], [0.5, 0.9], [0, 0], [1, 0]),  # disjoint: both, by score
        ([], [], [], []),
    ],
)
def test_class_aware_nms(boxes, scores, classes, kept):
    got = nms(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32), np.array(classes))
    assert got.tolist() == kept


def test_iou_and_greedy_matching():
    truth = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], np.float32)
    pred = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    assert iou_matrix(pred, truth)[0, 0] == pytest.approx(1.0)
    counts = match(pred, np.array([0.9, 0.8, 0.7]), truth)
    assert (counts.true_positives, counts.false_positives, counts.false_negatives) == (1, 2, 1)
    assert counts.recall == 0.5 and counts.precision == pytest.approx(1 / 3)
