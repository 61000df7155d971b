"""Box IoU and non-maximum suppression: class-aware (OpenCV's batched NMS) and MediaPipe's weighted NMS."""

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
        overlap = iou_matrix(xyxy[lead], xyxy[remaining])[0]
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


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes, (len(a), len(b)): the one box IoU in Vigil. Degenerate boxes have area 0 and an
    IoU of 0 with everything."""
    a, b = np.asarray(a, np.float32).reshape(-1, 4), np.asarray(b, np.float32).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def inside_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)): the fraction of each box of `a` lying inside each box of `b` (0 for degenerate boxes)."""
    a, b = np.asarray(a, np.float32).reshape(-1, 4), np.asarray(b, np.float32).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    return np.where(area_a[:, None] > 0, inter / np.maximum(area_a[:, None], 1e-9), 0.0).astype(np.float32)
