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

    def wants(self, pixels: np.ndarray, time_s: float) -> bool:
        """Whether the detector should run on this frame (the first, a keyframe, or one that changed)."""
        small = reduced(pixels)
        keyframe = (self._reference is None or self._reference.shape != small.shape
                    or time_s - self._keyframe_at >= self.keyframe_s)
        if keyframe:
            self._keyframe_at = time_s
        elif np.count_nonzero(np.abs(small - self._reference) > self.delta) < self.share * small.size:
            self.skipped += 1
            return False
        self._reference = small
        return True
