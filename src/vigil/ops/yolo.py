"""Decoders from YOLO output tensors to candidate boxes in network-input pixels (before NMS).

Three layouts: darknet [yolo] heads (raw maps, anchors from the model file), YOLOv5-style
(n, 5 + classes) rows of cx, cy, w, h, objectness, class scores, and YOLOv8/11-style
(4 + classes, n) columns without objectness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Candidates:
    xyxy: np.ndarray  # (n, 4) in network-input pixels
    score: np.ndarray
    class_id: np.ndarray

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _cxcywh_to_xyxy(cx, cy, w, h) -> np.ndarray:
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)


def decode_darknet(raw_heads: list[np.ndarray], heads: list[dict], input_w: int, input_h: int,
                   min_score: float) -> Candidates:
    """Darknet [yolo] maps (1, A*(5+C), H, W). Objectness is filtered first, so the class sigmoid
    runs only on the few cells that can pass `min_score` (score = objectness × class probability)."""
    parts = []
    for raw, head in zip(raw_heads, heads, strict=True):
        anchors = np.asarray(head["anchors"], np.float32)
        n_anchor, n_class, scale = len(anchors), head["classes"], head["scale_x_y"]
        _, _, grid_h, grid_w = raw.shape
        maps = raw[0].reshape(n_anchor, 5 + n_class, grid_h, grid_w)
        obj = _sigmoid(maps[:, 4])
        a, gy, gx = np.nonzero(obj > min_score)
        if len(a) == 0:
            continue
        cell = maps[a, :, gy, gx]  # (k, 5 + C)
        class_prob = _sigmoid(cell[:, 5:])
        class_id = class_prob.argmax(axis=1)
        score = obj[a, gy, gx] * class_prob[np.arange(len(a)), class_id]
        offset = _sigmoid(cell[:, :2]) * scale - (scale - 1) / 2
        cx = (offset[:, 0] + gx) * (input_w / grid_w)
        cy = (offset[:, 1] + gy) * (input_h / grid_h)
        w = np.exp(cell[:, 2]) * anchors[a, 0]
        h = np.exp(cell[:, 3]) * anchors[a, 1]
        keep = score > min_score
        parts.append(Candidates(_cxcywh_to_xyxy(cx, cy, w, h)[keep], score[keep].astype(np.float32),
                                class_id[keep].astype(np.int64)))
    return _concat(parts)


def decode_yolov5(output: np.ndarray, min_score: float) -> Candidates:
    """(1, n, 5 + C): cx, cy, w, h in input pixels, objectness, per-class probabilities."""
    rows = output.reshape(-1, output.shape[-1])
    rows = rows[rows[:, 4] > min_score]
    if len(rows) == 0:
        return Candidates.empty()
    class_id = rows[:, 5:].argmax(axis=1)
    score = rows[:, 4] * rows[np.arange(len(rows)), 5 + class_id]
    keep = score > min_score
    rows = rows[keep]
    return Candidates(_cxcywh_to_xyxy(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]),
                      score[keep].astype(np.float32), class_id[keep].astype(np.int64))


def decode_yolov8(output: np.ndarray, min_score: float) -> Candidates:
    """(1, 4 + C, n): cx, cy, w, h in input pixels, then per-class probabilities (no objectness)."""
    cols = output.reshape(output.shape[-2], output.shape[-1]).T  # (n, 4 + C)
    class_id = cols[:, 4:].argmax(axis=1)
    score = cols[np.arange(len(cols)), 4 + class_id]
    keep = score > min_score
    cols = cols[keep]
    return Candidates(_cxcywh_to_xyxy(cols[:, 0], cols[:, 1], cols[:, 2], cols[:, 3]),
                      score[keep].astype(np.float32), class_id[keep].astype(np.int64))


def _concat(parts: list[Candidates]) -> Candidates:
    if not parts:
        return Candidates.empty()
    return Candidates(np.concatenate([p.xyxy for p in parts]), np.concatenate([p.score for p in parts]),
                      np.concatenate([p.class_id for p in parts]))
