"""OpenCV DNN for darknet files: the plain path most camera servers use, kept as our speed baseline."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vigil.errors import ModelIntegrityError


def darknet_net(cfg: Path, weights: Path, threads: int = 2) -> cv2.dnn.Net:
    cv2.setNumThreads(threads)
    try:
        net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    except cv2.error as exc:
        raise ModelIntegrityError(f"OpenCV cannot read {weights.name}: {exc}") from None
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    return net


def forward(net: cv2.dnn.Net, bgr: np.ndarray, size: int) -> list[np.ndarray]:
    """The classic path: full decode in, stretch to a square blob, rows of cx, cy, w, h, obj, classes out."""
    blob = cv2.dnn.blobFromImage(bgr, 1 / 255.0, (size, size), swapRB=True, crop=False)
    net.setInput(blob)
    return list(net.forward(net.getUnconnectedOutLayersNames()))
