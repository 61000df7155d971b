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


def plan_windows(width: int, height: int, points: np.ndarray, side: int, limit: int) -> list[tuple[int, int, int, int]]:
    """At most `limit` square windows (x0, y0, x1, y1) of `side` pixels (clipped to the frame) covering as many of
    `points` ((n, 2) x, y: where small people may be, best first) as they can: greedy set cover, each window centred on
    a still-uncovered point, the one covering most uncovered points first. No points, no windows."""
    side = max(1, min(side, width, height))
    points = np.asarray(points, np.float32).reshape(-1, 2)
    uncovered = np.ones(len(points), bool)
    windows: list[tuple[int, int, int, int]] = []
    while uncovered.any() and len(windows) < limit:
        best, best_gain = None, None
        for x, y in points[uncovered]:
            window = _window_at(float(x), float(y), side, width, height)
            gain = _inside(points, window) & uncovered
            if best_gain is None or gain.sum() > best_gain.sum():
                best, best_gain = window, gain
        assert best is not None and best_gain is not None
        windows.append(best)
        uncovered &= ~best_gain
    return windows


def along_bands(width: int, seeds: list[tuple[int, int, int, int]], taken: list[tuple[int, int, int, int]],
                limit: int) -> list[tuple[int, int, int, int]]:
    """New windows beside `seeds` along their rows (a band of the frame at one distance from the camera, where more
    small people are likely), nearest first, left and right in turn, overlapping none of `taken` or each other by
    more than a quarter; at most `limit` windows with `taken`."""
    new: list[tuple[int, int, int, int]] = []
    ring = 1
    while len(taken) + len(new) < limit and any(ring * (w[2] - w[0]) < width for w in seeds):
        for x0, y0, x1, y1 in seeds:
            for step in (-ring, ring):
                side = x1 - x0
                nx0 = int(min(max(x0 + step * side, 0), width - side))
                candidate = (nx0, y0, nx0 + side, y1)
                if len(taken) + len(new) < limit and all(_overlap(candidate, w) <= 0.25 for w in [*taken, *new]):
                    new.append(candidate)
        ring += 1
    return new


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h / max(1, (a[2] - a[0]) * (a[3] - a[1]))


def _window_at(x: float, y: float, side: int, width: int, height: int) -> tuple[int, int, int, int]:
    x0 = int(min(max(round(x - side / 2), 0), width - side))
    y0 = int(min(max(round(y - side / 2), 0), height - side))
    return x0, y0, x0 + side, y0 + side


def _inside(points: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = window
    return (points[:, 0] >= x0) & (points[:, 0] < x1) & (points[:, 1] >= y0) & (points[:, 1] < y1)


def cut_by_window(xyxy: np.ndarray, window: tuple[int, int, int, int], width: int, height: int,
                  margin: float = 2.0) -> np.ndarray:
    """Mask of boxes (in the window's pixels) touching a window edge that lies inside the frame: people cut by the
    window, found whole by the first look or by a neighbouring window."""
    x0, y0, x1, y1 = window
    cut = np.zeros(len(xyxy), bool)
    if x0 > 0:
        cut |= xyxy[:, 0] <= margin
    if y0 > 0:
        cut |= xyxy[:, 1] <= margin
    if x1 < width:
        cut |= xyxy[:, 2] >= (x1 - x0) - margin
    if y1 < height:
        cut |= xyxy[:, 3] >= (y1 - y0) - margin
    return cut
