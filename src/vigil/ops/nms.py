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


def weighted_nms(xyxy: np.ndarray, score: np.ndarray, iou: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's weighted NMS for one class: each kept box is the score-weighted mean of the boxes it
    suppresses, which steadies BlazeFace boxes. Returns (xyxy, score, index of the leading box)."""
    order = np.argsort(-score, kind="stable")
    boxes, scores, leaders = [], [], []
    remaining = order
    while len(remaining):
        lead = remaining[0]
        overlap = box_iou(xyxy[lead], xyxy[remaining])
        group = remaining[overlap > iou]
        group = group if len(group) else remaining[:1]
        weights = score[group][:, None]
        boxes.append((xyxy[group] * weights).sum(0) / weights.sum())
        scores.append(score[lead])
        leaders.append(lead)
        remaining = remaining[overlap <= iou]
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    return np.asarray(boxes, np.float32), np.asarray(scores, np.float32), np.asarray(leaders, np.int64)


def box_iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box against (n, 4) boxes."""
    tl = np.maximum(box[:2], others[:, :2])
    br = np.minimum(box[2:], others[:, 2:])
    inter = np.clip(br - tl, 0, None).prod(axis=1)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)  # noqa: E731
    union = area(box) + area(others) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
