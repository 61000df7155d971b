"""YuNet's output decoding (OpenCV's FaceDetectorYN, 2023mar heads): per stride 8, 16 and 32, a score
sqrt(cls · obj), a box as centre offset and log size in stride units, and five landmarks (eyes, nose, mouth corners)
as offsets from the cell."""

from __future__ import annotations

import numpy as np

STRIDES = (8, 16, 32)


def decode_yunet(outputs: dict[str, np.ndarray], width: int, height: int, min_score: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xyxy (n, 4), score (n,), keypoints (n, 5, 2)) in network pixels, candidates at or above `min_score`."""
    boxes, scores, points = [], [], []
    for stride in STRIDES:
        cols, rows = width // stride, height // stride
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0, 1)
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0, 1)
        score = np.sqrt(cls * obj)
        keep = np.flatnonzero(score >= min_score)
        if not len(keep) or rows * cols != len(score):
            continue
        cell = np.column_stack([keep % cols, keep // cols]).astype(np.float32)
        bbox = outputs[f"bbox_{stride}"].reshape(-1, 4)[keep]
        centre = (cell + bbox[:, :2]) * stride
        size = np.exp(np.clip(bbox[:, 2:], -10, 10)) * stride
        boxes.append(np.column_stack([centre - size / 2, centre + size / 2]))
        scores.append(score[keep])
        points.append((outputs[f"kps_{stride}"].reshape(-1, 5, 2)[keep] + cell[:, None, :]) * stride)
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
    return (np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32),
            np.concatenate(points).astype(np.float32))
