"""Motion gating: a cheap test on a reduced grey frame decides whether the detector runs at all.

A frame is compared with the last frame the detector ran on (not the one just before it), so slow movement adds
up until it shows. The first frame, and a keyframe every `keyframe_s`, always run: objects that stand still are
found and kept by the tracker even while nothing moves.
"""

from __future__ import annotations

import cv2
import numpy as np

REDUCED_WIDTH = 160  # pixels across the frame the test looks at
PIXEL_DELTA = 18  # grey levels a reduced pixel must change by to count as changed
CHANGED_SHARE = 0.0006  # share of reduced pixels that must change (≈ 11 of 160×120: a 40 px person at 768 px)
MOVED_MIN_PX = 3  # reduced pixels a changed blob needs to count as a moving thing (not sensor noise)
MOVED_KEPT = 16  # the largest blobs kept per frame


def reduced(pixels: np.ndarray, width: int = REDUCED_WIDTH) -> np.ndarray:
    """The frame as a small blurred grey image (int16, so differences do not wrap)."""
    h, w = pixels.shape[:2]
    small = cv2.resize(pixels, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return cv2.GaussianBlur(grey, (3, 3), 0).astype(np.int16)


class MotionGate:
    def __init__(self, keyframe_s: float = 5.0, delta: int = PIXEL_DELTA, share: float = CHANGED_SHARE) -> None:
        self.keyframe_s, self.delta, self.share = keyframe_s, delta, share
        self._reference: np.ndarray | None = None
        self._keyframe_at = 0.0
        self.skipped = 0
        self.moved = NO_BLOBS  # where the last frame let through changed (none on the first frame)

    def wants(self, pixels: np.ndarray, time_s: float) -> bool:
        """Whether the detector should run on this frame (the first, a keyframe, or one that changed); `moved` is
        then where it changed."""
        small = reduced(pixels)
        comparable = self._reference is not None and self._reference.shape == small.shape
        changed = np.abs(small - self._reference) > self.delta if comparable else None
        if not comparable or time_s - self._keyframe_at >= self.keyframe_s:
            self._keyframe_at = time_s
        elif np.count_nonzero(changed) < self.share * small.size:
            self.skipped += 1
            return False
        self.moved = blobs(changed, pixels.shape[1] / small.shape[1]) if changed is not None else NO_BLOBS
        self._reference = small
        return True


NO_BLOBS = np.zeros((0, 4), np.float32)


def blobs(changed: np.ndarray, scale: float) -> np.ndarray:
    """Boxes (xyxy, frame pixels: `scale` frame pixels per reduced pixel) around the changed blobs of a reduced
    frame, largest first; specks under MOVED_MIN_PX are noise."""
    mask = cv2.dilate(changed.astype(np.uint8), np.ones((3, 3), np.uint8))
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    stats = stats[1:][stats[1:, cv2.CC_STAT_AREA] >= MOVED_MIN_PX]
    stats = stats[np.argsort(-stats[:, cv2.CC_STAT_AREA])][:MOVED_KEPT]
    x, y, w, h = (stats[:, i].astype(np.float32) for i in range(4))
    return np.column_stack([x, y, x + w, y + h]).reshape(-1, 4) * np.float32(scale)
