"""to_tensor's normalisation (OpenCV arithmetic) gives what the plain NumPy formula gives, for every channel count and
for a view (BGR from RGB), so the speed-up changes no model's input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from vigil.ops.tensor import normalised, to_tensor


@dataclass(frozen=True)
class Layout:
    colour: str = "RGB"
    dtype: str = "float32"
    layout: str = "NHWC"
    mean: tuple[float, ...] = (127.5, 127.5, 127.5)
    std: tuple[float, ...] = (127.5, 127.5, 127.5)


def numpy_formula(pixels: np.ndarray, mean, std) -> np.ndarray:
    return (pixels.astype(np.float32) - np.float32(mean)) / np.float32(std)


@pytest.mark.parametrize("channels", [1, 3, 4, 6])
def test_normalised_matches_the_numpy_formula(channels):
    pixels = np.random.default_rng(channels).integers(0, 256, (13, 17, channels), dtype=np.uint8)
    mean, std = [0.0, 123.7, 116.3, 103.5, 1.0, 255.0][:channels], [255.0, 58.4, 57.1, 57.4, 2.0, 1.0][:channels]
    out = normalised(pixels, mean, std)
    assert out.dtype == np.float32 and out.shape == pixels.shape
    np.testing.assert_allclose(out, numpy_formula(pixels, mean, std), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize(("colour", "layout", "shape"), [
    ("RGB", "NHWC", (1, 20, 30, 3)),
    ("BGR", "NHWC", (1, 20, 30, 3)),
    ("BGR", "NCHW", (1, 3, 20, 30)),
])
def test_to_tensor_float_inputs(colour, layout, shape):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    spec = Layout(colour=colour, layout=layout, mean=(10.0, 20.0, 30.0), std=(2.0, 4.0, 8.0))
    tensor = to_tensor(rgb, spec)
    pixels = rgb[:, :, ::-1] if colour == "BGR" else rgb
    expected = numpy_formula(pixels, spec.mean, spec.std)
    expected = expected.transpose(2, 0, 1)[None] if layout == "NCHW" else expected[None]
    assert tensor.shape == shape and tensor.flags.c_contiguous
    np.testing.assert_allclose(tensor, expected, rtol=1e-6, atol=1e-5)
