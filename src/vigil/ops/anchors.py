"""SSD anchors and BlazeFace box decoding (MediaPipe's SsdAnchorsCalculator and
TfLiteTensorsToDetectionsCalculator, reduced to what BlazeFace models use).

Raw BlazeFace outputs are offsets in input pixels relative to an anchor centre: (dx, dy, w, h) then
(x, y) for each keypoint. Decoded boxes and keypoints here are in network-input pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RAW_SCORE_LIMIT = 80.0  # MediaPipe clips at 100; 80 keeps exp() finite in float32


@dataclass(frozen=True)
class AnchorConfig:
    input_w: int
    input_h: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float = 1.0  # 1.0 adds a second anchor per cell and stride group
    offset: float = 0.5


BLAZEFACE_FULL_RANGE = AnchorConfig(192, 192, (4,), interpolated_scale_aspect_ratio=0.0)
BLAZEFACE_SHORT_RANGE = AnchorConfig(128, 128, (8, 16, 16, 16))


def ssd_anchors(cfg: AnchorConfig) -> np.ndarray:
    """Anchor centres (n, 2) normalised to [0, 1]; layers with the same stride share one grid."""
    out = []
    i = 0
    while i < len(cfg.strides):
        stride, repeats = cfg.strides[i], 0
        while i < len(cfg.strides) and cfg.strides[i] == stride:
            repeats += 2 if cfg.interpolated_scale_aspect_ratio == 1.0 else 1
            i += 1
        rows, cols = cfg.input_h // stride, cfg.input_w // stride
        ys, xs = np.meshgrid((np.arange(rows) + cfg.offset) / rows, (np.arange(cols) + cfg.offset) / cols,
                             indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(grid, repeats, axis=0))
    return np.concatenate(out).astype(np.float32)


def decode_blazeface(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, cfg: AnchorConfig,
                     min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xyxy (k,4), score (k,), keypoints (k,p,2)) in input pixels for anchors scoring ≥ min_score."""
    logits = np.clip(raw_scores.reshape(-1), -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)
    score = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(score >= min_score)
    raw = raw_boxes.reshape(len(anchors), -1)[keep]
    size = np.array([cfg.input_w, cfg.input_h], np.float32)
    centre = anchors[keep] * size
    xy = centre + raw[:, 0:2]
    half = raw[:, 2:4] / 2
    xyxy = np.concatenate([xy - half, xy + half], axis=1)
    keypoints = raw[:, 4:].reshape(len(keep), (raw.shape[1] - 4) // 2, 2) + centre[:, None, :]
    valid = (half > 0).all(axis=1)
    return xyxy[valid].astype(np.float32), score[keep][valid].astype(np.float32), keypoints[valid].astype(np.float32)
