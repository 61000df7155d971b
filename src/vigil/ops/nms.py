"""Class-aware non-maximum suppression, via OpenCV's batched NMS."""

from __future__ import annotations

import cv2
import numpy as np


def nms(xyxy: np.ndarray, score: np.ndarray, class_id: np.ndarray, iou: float = 0.45,
        min_score: float = 0.0) -> np.ndarray:
    """Indices of the boxes kept, highest score first; boxes of different classes never suppress each other."""
    if len(xyxy) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]).astype(np.float32)
    kept = cv2.dnn.NMSBoxesBatched(xywh.tolist(), score.astype(np.float32).tolist(),
                                   class_id.astype(np.int32).tolist(), min_score, iou)
    kept = np.asarray(kept, dtype=np.int64).reshape(-1)
    return kept[np.argsort(-score[kept], kind="stable")]
