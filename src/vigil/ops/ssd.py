"""Decoder for SSD detectors in the Coral / TFLite detection-postprocess layout."""

from __future__ import annotations

import numpy as np

from vigil.ops.yolo import Candidates


def decode_ssd_coral(outputs: list[np.ndarray], input_w: int, input_h: int, min_score: float) -> Candidates:
    """Four outputs: boxes (1, n, 4) as normalised ymin, xmin, ymax, xmax; class ids (1, n);
    scores (1, n); count (1,). Returns xyxy in network-input pixels."""
    boxes, classes, scores, count = (np.asarray(o) for o in outputs)
    n = int(np.asarray(count).reshape(-1)[0])
    boxes, classes, scores = boxes.reshape(-1, 4)[:n], classes.reshape(-1)[:n], scores.reshape(-1)[:n]
    keep = scores > min_score
    yx = boxes[keep]
    xyxy = np.stack([yx[:, 1] * input_w, yx[:, 0] * input_h, yx[:, 3] * input_w, yx[:, 2] * input_h], axis=1)
    return Candidates(xyxy.astype(np.float32), scores[keep].astype(np.float32), classes[keep].astype(np.int64))


def order_ssd_outputs(outputs: list[np.ndarray]) -> list[np.ndarray]:
    """TFLite exports disagree on output order; identify them by shape and value range instead.

    boxes: the only 3-d output; count: the only one with a single element; scores lie in [0, 1] and
    class ids are whole numbers (ties are broken by the conventional order: classes before scores).
    """
    boxes = next(o for o in outputs if o.ndim == 3)
    count = next(o for o in outputs if o.size == 1)
    rest = [o for o in outputs if o is not boxes and o is not count]
    if len(rest) != 2:
        raise ValueError("an SSD detector must have four outputs: boxes, classes, scores, count")
    first, second = rest
    first_is_classes = bool(np.all(np.equal(np.mod(first, 1), 0))) and not (
        np.all(np.equal(np.mod(second, 1), 0)) and second.max(initial=0) > 1)
    classes, scores = (first, second) if first_is_classes else (second, first)
    return [boxes, classes, scores, count]
