"""Keep-aspect resize onto a padded canvas, and the exact inverse for boxes.

The original servers padded to a square at the bottom-right and then scaled normalised boxes by the
*original* width and height, which stretched every box on a non-square frame. Here the forward and
inverse transforms are one object, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Letterbox:
    scale_x: float  # canvas pixels per source pixel, per axis (they differ only by rounding)
    scale_y: float
    pad_x: float
    pad_y: float
    src_w: int
    src_h: int

    def boxes_to_source(self, xyxy: np.ndarray) -> np.ndarray:
        """Canvas pixels → source pixels, clipped to the source image."""
        out = np.empty_like(xyxy, dtype=np.float32)
        out[:, [0, 2]] = (xyxy[:, [0, 2]] - self.pad_x) / self.scale_x
        out[:, [1, 3]] = (xyxy[:, [1, 3]] - self.pad_y) / self.scale_y
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, self.src_w)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, self.src_h)
        return out


def fitted_size(src_w: int, src_h: int, dst_w: int, dst_h: int) -> tuple[int, int]:
    scale = min(dst_w / src_w, dst_h / src_h)
    return max(1, round(src_w * scale)), max(1, round(src_h * scale))


def letterbox(image: np.ndarray, dst_w: int, dst_h: int, pad_value: int = 114) -> tuple[np.ndarray, Letterbox]:
    """Resize `image` (h, w, c) to fit (dst_w, dst_h) keeping its aspect ratio, centred on padding."""
    src_h, src_w = image.shape[:2]
    new_w, new_h = fitted_size(src_w, src_h, dst_w, dst_h)
    canvas = np.full((dst_h, dst_w, image.shape[2]), pad_value, dtype=image.dtype)
    pad_x, pad_y = (dst_w - new_w) // 2, (dst_h - new_h) // 2
    interpolation = cv2.INTER_AREA if new_w < src_w else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return canvas, Letterbox(new_w / src_w, new_h / src_h, pad_x, pad_y, src_w, src_h)


def stretch(image: np.ndarray, dst_w: int, dst_h: int) -> tuple[np.ndarray, tuple[float, float]]:
    """Plain resize (for models trained without letterbox); returns the per-axis scales."""
    src_h, src_w = image.shape[:2]
    return cv2.resize(image, (dst_w, dst_h), interpolation=cv2.INTER_AREA), (dst_w / src_w, dst_h / src_h)
