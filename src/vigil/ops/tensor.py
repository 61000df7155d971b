"""From an RGB uint8 image of the right size to the tensor a model's InputSpec declares."""

from __future__ import annotations

import cv2
import numpy as np

from vigil.registry.specs import InputSpec


def to_tensor(rgb: np.ndarray, spec: InputSpec) -> np.ndarray:
    if spec.colour == "BGR":
        pixels = rgb[:, :, ::-1]
    elif spec.colour == "GRAY":
        pixels = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None]
    else:
        pixels = rgb
    if spec.dtype == "uint8":
        tensor = np.ascontiguousarray(pixels)
    else:
        mean = np.asarray(spec.mean[: pixels.shape[2]], np.float32)
        std = np.asarray(spec.std[: pixels.shape[2]], np.float32)
        tensor = (pixels.astype(np.float32) - mean) / std
        if spec.dtype == "int8":  # full-integer models take values already centred on zero
            tensor = np.clip(np.round(tensor), -128, 127).astype(np.int8)
    if spec.layout == "NCHW":
        tensor = tensor.transpose(2, 0, 1)
    return np.ascontiguousarray(tensor[None])
