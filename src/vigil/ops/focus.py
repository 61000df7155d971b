"""Focus measure: the variance of the Laplacian of a grey image (Pech-Pacheco et al., 2000), as the
original servers used to drop blurry faces (threshold 200 on 8-bit grey)."""

from __future__ import annotations

import cv2
import numpy as np


def laplacian_variance(image: np.ndarray, max_width: int = 0) -> float:
    """Variance of the 3×3 Laplacian; `image` is RGB (h, w, 3) or grey (h, w) uint8. Empty → 0.

    The measure falls as resolution rises (a sharp 300-px face is smooth from pixel to pixel), so with
    `max_width` wider images are first shrunk to that width; smaller ones are measured as they are."""
    if image.size == 0:
        return 0.0
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    if max_width and grey.shape[1] > max_width:
        height = max(1, round(grey.shape[0] * max_width / grey.shape[1]))
        grey = cv2.resize(grey, (max_width, height), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())
