"""Plane geometry of zones, masks and lines, in source pixels (image y points down).

A box's anchor is its foot point (bottom centre): where a person or a car stands on the ground, which is what a
zone drawn on the floor or a line across a path means.
"""

from __future__ import annotations

import numpy as np


def foot_points(xyxy: np.ndarray) -> np.ndarray:
    """(n, 2) bottom centres of (n, 4) xyxy boxes."""
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]], axis=1)


def centres(xyxy: np.ndarray) -> np.ndarray:
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2], axis=1)


def inside(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(n,) bool: which points lie inside the polygon ((k, 2) vertices in order), by the even-odd rule."""
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x, y = pts[:, 0:1], pts[:, 1:2]
    x1, y1 = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        cross_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return (np.count_nonzero(straddles & (x < cross_x), axis=1) % 2) == 1


def side(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> float:
    """Which side of the directed line a→b the point p is on, seen from a towards b with image y down: > 0 right,
    < 0 left, 0 on it."""
    return float((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]))


def crosses(a: np.ndarray, b: np.ndarray, p: np.ndarray, q: np.ndarray) -> int:
    """+1 when a move p→q crosses the segment a–b from its left to its right ("in"), -1 from right to left
    ("out"), 0 when it does not cross the segment (touching an end counts as on it)."""
    before, after = side(a, b, p), side(a, b, q)
    if before == 0 or after == 0 or (before > 0) == (after > 0):
        return 0
    s1, s2 = side(p, q, a), side(p, q, b)
    if s1 != 0 and s2 != 0 and (s1 > 0) == (s2 > 0):
        return 0  # the move crosses the line's extension, not the segment
    return 1 if before < 0 else -1


def within_frame(points: np.ndarray, width: int, height: int) -> bool:
    """Every point in 0 ≤ x ≤ width, 0 ≤ y ≤ height (edges included)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return bool(np.all((pts[:, 0] >= 0) & (pts[:, 0] <= width) & (pts[:, 1] >= 0) & (pts[:, 1] <= height)))
