"""Draw detections on a frame: what people look at to trust (or doubt) a result."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vigil.results import CLASS_NAME, Detections

_PALETTE = np.array([(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
                     (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)], np.uint8)


def draw(rgb: np.ndarray, detections: Detections) -> np.ndarray:
    """A copy of `rgb` with each box, its label and score (and a face name when there is one)."""
    out = np.ascontiguousarray(rgb.copy())
    thickness = max(1, round(min(out.shape[:2]) / 300))
    scale = max(0.4, min(out.shape[:2]) / 900)
    names = detections.data.get(CLASS_NAME)
    faces = detections.data.get("face")
    for i in range(len(detections)):
        colour = tuple(int(c) for c in _PALETTE[int(detections.class_id[i]) % len(_PALETTE)])
        x1, y1, x2, y2 = (round(float(v)) for v in detections.xyxy[i])
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        text = f"{names[i] if names is not None else detections.class_id[i]} {detections.score[i]:.2f}"
        if faces is not None and faces[i]:
            text += f" {faces[i]}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(0, y1 - th - base - 2)
        cv2.rectangle(out, (x1, top), (x1 + tw + 2, top + th + base + 2), colour, -1)
        cv2.putText(out, text, (x1 + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def save(rgb: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
