"""Match detections to ground-truth boxes, for recall / precision figures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.ops.nms import iou_matrix


@dataclass
class MatchCounts:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    def __iadd__(self, other: MatchCounts) -> MatchCounts:
        self.true_positives += other.true_positives
        self.false_positives += other.false_positives
        self.false_negatives += other.false_negatives
        return self

    @property
    def recall(self) -> float:
        return self.true_positives / max(1, self.true_positives + self.false_negatives)

    @property
    def precision(self) -> float:
        return self.true_positives / max(1, self.true_positives + self.false_positives)


def match(pred_xyxy: np.ndarray, pred_score: np.ndarray, truth_xyxy: np.ndarray, iou: float = 0.5) -> MatchCounts:
    """Greedy matching in score order (as the COCO and VOC evaluators do): each truth box matches at most once."""
    ious = iou_matrix(pred_xyxy, truth_xyxy)
    taken = np.zeros(len(truth_xyxy), bool)
    tp = 0
    for i in np.argsort(-np.asarray(pred_score)):
        if ious.shape[1] == 0:
            break
        candidates = np.where(taken, -1.0, ious[i])
        j = int(candidates.argmax())
        if candidates[j] >= iou:
            taken[j] = True
            tp += 1
    return MatchCounts(tp, len(pred_xyxy) - tp, len(truth_xyxy) - tp)
