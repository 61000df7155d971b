"""How good a face is as the picture of a visit: big enough, sharp, and looking at the camera.

The score is the product of three terms in [0, 1]:
- size: the face's width in original pixels over FULL_WIDTH (a 150 px aligned chip needs about that many);
- sharpness: the variance of the Laplacian (vigil.ops.focus, as the focus check measures it) over SHARP, square-rooted
  so a sharp face is not outweighed by a merely bigger one;
- frontal pose from dlib's five landmarks (eye corners 0-1 and 2-3, nose base 4): the nose under the point between
  the eyes, and both eyes equally wide. A face turned away moves the nose towards one eye and narrows the far eye.
"""

from __future__ import annotations

import numpy as np

from vigil.ops.focus import laplacian_variance

FULL_WIDTH = 112.0
SHARP = 600.0


def frontal(points: np.ndarray) -> float:
    """1 for a face looking straight at the camera, towards 0 as it turns away (five (x, y) landmarks)."""
    p = np.asarray(points, np.float64).reshape(5, 2)
    eye_a, eye_b = p[0:2].mean(axis=0), p[2:4].mean(axis=0)
    axis = eye_b - eye_a
    span = float(np.linalg.norm(axis))
    if span < 1e-6:
        return 0.0
    offset = abs(float(np.dot(p[4] - (eye_a + eye_b) / 2, axis / span))) / span  # 0 centred, 0.5 under one eye
    widths = np.linalg.norm(p[0] - p[1]), np.linalg.norm(p[2] - p[3])
    balance = float(min(widths) / max(widths)) if max(widths) > 0 else 0.0
    return float(np.clip(1.0 - 2.0 * offset, 0.0, 1.0) * balance)


def quality(rgb: np.ndarray, box: np.ndarray, points: np.ndarray, scale: float, focus_width: int) -> float:
    """The best-face score of one face (`box` and `points` in `rgb`'s pixels, `scale` of `rgb` to the original;
    `focus_width` as the recogniser's focus check shrinks faces)."""
    x0, y0, x1, y1 = np.round(np.asarray(box, np.float64)).astype(int)
    face = rgb[max(0, y0):max(0, y1), max(0, x0):max(0, x1)]
    if face.size == 0:
        return 0.0
    size = min(1.0, (x1 - x0) / scale / FULL_WIDTH)
    sharp = min(1.0, laplacian_variance(face, focus_width) / SHARP) ** 0.5
    return round(size * sharp * frontal(points), 4)
