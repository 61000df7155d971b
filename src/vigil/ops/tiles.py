"""Overlapping tiles over a frame, and merging the boxes found in them back into one set.

Small people are found better when the detector sees a tile at its full input size than the whole frame shrunk.
A person on a tile border is found whole in one tile and cut in its neighbour: NMS removes near-duplicates, and a
box lying mostly inside a higher-scoring one (the cut half) is dropped too.
"""

from __future__ import annotations

import numpy as np

from vigil.ops.nms import nms


def tile_grid(width: int, height: int, grid: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """grid × grid tiles (x0, y0, x1, y1) covering the frame, neighbours sharing `overlap` of a tile's side."""
    tiles = []
    for rows in _spans(height, grid, overlap):
        for cols in _spans(width, grid, overlap):
            tiles.append((cols[0], rows[0], cols[1], rows[1]))
    return tiles


def _spans(side: int, grid: int, overlap: float) -> list[tuple[int, int]]:
    if grid <= 1:
        return [(0, side)]
    length = side / (grid - (grid - 1) * overlap)
    step = length * (1 - overlap)
    return [(round(i * step), min(side, round(i * step + length))) for i in range(grid)]


def contained_in_better(xyxy: np.ndarray, score: np.ndarray, threshold: float = 0.7) -> np.ndarray:
    """Mask of boxes to keep: a box whose area lies more than `threshold` inside a higher-scoring box is dropped."""
    keep = np.ones(len(xyxy), bool)
    order = np.argsort(-score, kind="stable")
    area = np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None) * np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)
    for rank, i in enumerate(order):
        better = order[:rank][keep[order[:rank]]]
        if not len(better):
            continue
        w = np.clip(np.minimum(xyxy[better, 2], xyxy[i, 2]) - np.maximum(xyxy[better, 0], xyxy[i, 0]), 0, None)
        h = np.clip(np.minimum(xyxy[better, 3], xyxy[i, 3]) - np.maximum(xyxy[better, 1], xyxy[i, 1]), 0, None)
        if ((w * h) / max(float(area[i]), 1e-6) > threshold).any():
            keep[i] = False
    return keep


def merge_tiles(xyxy: np.ndarray, score: np.ndarray, iou: float = 0.45) -> np.ndarray:
    """Indices of the boxes kept after merging detections from overlapping tiles (one class)."""
    kept = nms(xyxy, score, np.zeros(len(xyxy), np.int64), iou)
    return kept[contained_in_better(xyxy[kept], score[kept])]
