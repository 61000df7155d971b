"""atheris target: any bytes through image decoding (header checks, reduced JPEG/OpenCV decodes, Pillow) either give
an RGB image within the limits or raise BadInput. Anything else is a crash. Run: python fuzz_images.py [corpus]."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["vigil"]):
    from vigil.errors import BadInput
    from vigil.imaging import images

LIMITS = images.ImageLimits(max_bytes=1 << 20, max_pixels=4_000_000, decode_budget=64 << 20)


def test_one_input(data: bytes) -> None:
    fit = (64, 64) if data[:1] and data[0] & 1 else None
    try:
        frame = images.decode(data, LIMITS, fit=fit)
    except BadInput:
        return
    h, w, c = frame.pixels.shape
    assert c == 3 and frame.pixels.dtype.name == "uint8" and w * h <= LIMITS.max_pixels


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
