"""Safe image input: bytes or paths in, an RGB uint8 array out.

Limits are checked from the header before any pixel is decoded (decompression bombs never get
allocated). JPEGs much larger than what the model needs are decoded at reduced scale in the DCT
domain (libjpeg-turbo via simplejpeg), which is several times faster than decoding full size and
resizing. EXIF orientation is honoured.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simplejpeg
from PIL import Image, ImageOps, UnidentifiedImageError

from vigil.errors import BadInput
from vigil.ops.letterbox import fitted_size

Image.MAX_IMAGE_PIXELS = None  # we enforce our own, configurable limit before decoding

DEFAULT_FORMATS = frozenset({"JPEG", "PNG", "BMP", "WEBP", "TIFF", "GIF"})
_ROTATING_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 50_000_000
    formats: frozenset[str] = DEFAULT_FORMATS


@dataclass
class DecodedImage:
    pixels: np.ndarray  # (h, w, 3) uint8 RGB, possibly reduced
    width: int  # full-size width after EXIF orientation: boxes are reported in this frame
    height: int

    @property
    def scale(self) -> float:
        """Decoded pixels per original pixel (1.0, or 1/2, 1/4, 1/8 after a reduced JPEG decode)."""
        return self.pixels.shape[1] / self.width


def read_bytes(path: str | os.PathLike, limits: ImageLimits = ImageLimits()) -> bytes:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > limits.max_bytes:
            raise BadInput(f"{p}: file is {size} bytes, over the {limits.max_bytes}-byte limit")
        return p.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{p}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{p}: is a directory, not an image") from None
    except PermissionError:
        raise BadInput(f"{p}: permission denied") from None


def decode(data: bytes, limits: ImageLimits = ImageLimits(), fit: tuple[int, int] | None = None) -> DecodedImage:
    """Decode image bytes to RGB. With `fit` (w, h), the model input the image will be shrunk into,
    a JPEG may be decoded at 1/2, 1/4 or 1/8 scale as long as it still covers its fitted size there;
    boxes found on the result must then be divided by `scale`."""
    if not data:
        raise BadInput("empty input: zero bytes")
    if len(data) > limits.max_bytes:
        raise BadInput(f"input is {len(data)} bytes, over the {limits.max_bytes}-byte limit")
    try:
        header = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise BadInput("not a recognised image format") from None
    if header.format not in limits.formats:
        raise BadInput(f"image format {header.format} is not allowed (allowed: {', '.join(sorted(limits.formats))})")
    width, height = header.size
    if width * height > limits.max_pixels:
        raise BadInput(f"image is {width}x{height} = {width * height} pixels, over the {limits.max_pixels} limit")
    orientation = _exif_orientation(header)
    if orientation in _ROTATING_ORIENTATIONS:
        width, height = height, width
    try:
        if header.format == "JPEG" and orientation in (None, 1):
            min_size = fitted_size(width, height, *fit) if fit else (width, height)
            return DecodedImage(_decode_jpeg(data, min_size), width, height)
        return DecodedImage(_decode_with_pillow(header), width, height)
    except BadInput:
        raise
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow and simplejpeg report truncation this way
        raise BadInput(f"image data is corrupt or truncated: {exc}") from None


def load(path_or_bytes: str | os.PathLike | bytes, limits: ImageLimits = ImageLimits(),
         fit: tuple[int, int] | None = None) -> DecodedImage:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else read_bytes(path_or_bytes, limits)
    return decode(data, limits, fit)


def _exif_orientation(header: Image.Image) -> int | None:
    try:
        return header.getexif().get(0x0112)
    except Exception:  # a broken EXIF block must not make a good picture unreadable
        return None


def _decode_jpeg(data: bytes, min_size: tuple[int, int]) -> np.ndarray:
    min_w, min_h = min_size
    try:
        return simplejpeg.decode_jpeg(data, colorspace="RGB", min_width=min_w, min_height=min_h, strict=True)
    except ValueError as exc:
        raise BadInput(f"JPEG data is corrupt or truncated: {exc}") from None


def _decode_with_pillow(header: Image.Image) -> np.ndarray:
    header.load()
    image = ImageOps.exif_transpose(header)
    return np.asarray(image.convert("RGB"))


def resolve_media_path(path: str, roots: list[Path], mount_point: str = "") -> Path:
    """Map a client's path onto this machine and refuse anything outside the media roots.

    `mount_point` is prepended to absolute client paths (the NVR's disk mounted elsewhere here).
    Symlinks are resolved before the check, so a link inside a root that points outside is refused.
    """
    if "\x00" in path:
        raise BadInput("path contains a NUL byte")
    candidate = Path(mount_point + path) if mount_point else Path(path)
    resolved = candidate.resolve()
    for root in roots:
        if resolved.is_relative_to(root.resolve()):
            return resolved
    raise BadInput(f"{path}: outside the configured media roots")
