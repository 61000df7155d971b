"""Safe image input: bytes or paths in, an RGB uint8 array out.

Limits are checked from the header before any pixel is decoded (decompression bombs never get
allocated). JPEGs much larger than what the model needs are decoded at reduced scale in the DCT
domain (libjpeg-turbo via simplejpeg), which is several times faster than decoding full size and
resizing. Other formats that OpenCV reads (PNG, BMP, WEBP, TIFF) are decoded by it at 1/2, 1/4 or 1/8 scale in the
same way, without Pillow's 4-bytes-a-pixel copy and conversions; rotated or other images go through Pillow (JPEG with
`draft`, then `reduce`). Decodes running at once share a memory budget (w × h × 3 bytes each): one that would
exceed it waits. EXIF orientation is honoured.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import simplejpeg
from PIL import Image, ImageOps, UnidentifiedImageError

from vigil.errors import BadInput
from vigil.ops.letterbox import fitted_size

Image.MAX_IMAGE_PIXELS = None  # we enforce our own, configurable limit before decoding

DEFAULT_FORMATS = frozenset({"JPEG", "PNG", "BMP", "WEBP", "TIFF", "GIF"})
_OPENCV_FORMATS = frozenset({"PNG", "BMP", "WEBP"})  # TIFF stays with Pillow: libtiff trusts its own offsets
_OPENCV_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                   8: cv2.IMREAD_REDUCED_COLOR_8}
_ROTATING_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 33_177_600  # 8K UHD (7680 × 4320): more than any camera sends
    formats: frozenset[str] = DEFAULT_FORMATS
    decode_budget: int = 512 * 1024 * 1024  # bytes of decoded pixels held by decodes running at once


class _MemoryBudget:
    """A semaphore weighted in bytes: decodes wait until their pixels fit next to those running. One decode larger
    than the whole budget runs alone."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.used = capacity, 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, size: int) -> Iterator[None]:
        size = min(size, self.capacity)
        with self._cond:
            self._cond.wait_for(lambda: self.used + size <= self.capacity)
            self.used += size
        try:
            yield
        finally:
            with self._cond:
                self.used -= size
                self._cond.notify_all()


_budgets: dict[int, _MemoryBudget] = {}
_budgets_lock = threading.Lock()


def _budget(capacity: int) -> _MemoryBudget:
    with _budgets_lock:
        return _budgets.setdefault(capacity, _MemoryBudget(capacity))


@dataclass
class DecodedImage:
    pixels: np.ndarray  # (h, w, 3) uint8 RGB, possibly reduced
    width: int  # full-size width after EXIF orientation: boxes are reported in this frame
    height: int
    # where a stream's frame changed since the last analysed one (xyxy, full-size pixels; sources/motion.py): the
    # detector's second look also looks there, for people too small for its first pass
    moved: np.ndarray | None = None

    @property
    def scale(self) -> float:
        """Decoded pixels per original pixel (1.0, or 1/2, 1/4, 1/8 after a reduced JPEG decode)."""
        return self.pixels.shape[1] / self.width


def read_bytes(path: str | os.PathLike, limits: ImageLimits = ImageLimits()) -> bytes:
    """The file's bytes. Opened without blocking and without following a final symlink (paths from clients are
    resolved first), and only a regular file is read: a FIFO or device in a media root cannot stall the reader.
    Every OS error is this path's own BadInput."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise BadInput(f"{p}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{p}: is a directory, not an image") from None
    except PermissionError:
        raise BadInput(f"{p}: permission denied") from None
    except OSError as exc:  # ENOTDIR, ENAMETOOLONG, ELOOP, ...
        if exc.errno == errno.ELOOP and p.is_symlink():  # O_NOFOLLOW: a link swapped in after a path check is refused
            raise BadInput(f"{str(p)[:300]}: is a symbolic link; Vigil opens only regular files (pass the link's "
                           f"target)") from None
        raise BadInput(f"{str(p)[:300]}: cannot open: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise BadInput(f"{p}: is a directory, not an image" if stat.S_ISDIR(info.st_mode) else
                       f"{p}: not a regular file")
    with os.fdopen(fd, "rb") as file:
        if info.st_size > limits.max_bytes:
            raise BadInput(f"{p}: file is {info.st_size} bytes, over the {limits.max_bytes}-byte limit")
        try:
            return file.read(limits.max_bytes + 1)
        except OSError as exc:
            raise BadInput(f"{p}: cannot read: {exc.strerror or exc}") from None


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
    except (OSError, ValueError, SyntaxError) as exc:  # a known format whose header is already broken
        raise BadInput(f"image data is corrupt or truncated: {str(exc)[:200]}") from None
    if header.format not in limits.formats:
        raise BadInput(f"image format {header.format} is not allowed (allowed: {', '.join(sorted(limits.formats))})")
    width, height = header.size
    if width * height > limits.max_pixels:
        raise BadInput(f"image is {width}x{height} = {width * height} pixels, over the {limits.max_pixels} limit")
    orientation = _exif_orientation(header)
    if orientation in _ROTATING_ORIENTATIONS:
        width, height = height, width
    min_size = fitted_size(width, height, *fit) if fit else (width, height)
    try:
        with _budget(limits.decode_budget).hold(width * height * 3):
            return DecodedImage(_decode_pixels(data, header, orientation, min_size), width, height)
    except BadInput:
        raise
    except (OSError, ValueError, SyntaxError, cv2.error) as exc:  # how Pillow, simplejpeg, OpenCV report truncation
        raise BadInput(f"image data is corrupt or truncated: {str(exc)[:200]}") from None


def _decode_pixels(data: bytes, header: Image.Image, orientation: int | None, min_size: tuple[int, int]
                   ) -> np.ndarray:
    upright = orientation in (None, 1)
    if header.format == "JPEG" and upright:
        return _decode_jpeg(data, min_size)
    if header.format in _OPENCV_FORMATS and upright and (header.format != "PNG" or _png_chunks_fit(data)):
        return _decode_with_opencv(data, _reduction(header.size, min_size))
    return _decode_with_pillow(header, orientation, min_size)


def _reduction(size: tuple[int, int], min_size: tuple[int, int]) -> int:
    """The largest of 1, 2, 4, 8 at which the image still covers `min_size`."""
    for factor in (8, 4, 2):
        if size[0] // factor >= min_size[0] and size[1] // factor >= min_size[1]:
            return factor
    return 1


def load(path_or_bytes: str | os.PathLike | bytes, limits: ImageLimits = ImageLimits(),
         fit: tuple[int, int] | None = None) -> DecodedImage:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else read_bytes(path_or_bytes, limits)
    return decode(data, limits, fit)


def _exif_orientation(header: Image.Image) -> int | None:
    try:
        if header.format == "PNG":  # Pillow's PNG getexif() decodes every pixel to look for a late eXIf chunk
            raw = header.info.get("exif")
            if not raw:
                return None
            exif = Image.Exif()
            exif.load(raw)
            return exif.get(0x0112)
        return header.getexif().get(0x0112)
    except Exception:  # a broken EXIF block must not make a good picture unreadable
        return None


def _decode_jpeg(data: bytes, min_size: tuple[int, int]) -> np.ndarray:
    min_w, min_h = min_size
    try:
        return simplejpeg.decode_jpeg(data, colorspace="RGB", min_width=min_w, min_height=min_h, strict=True)
    except ValueError as exc:
        raise BadInput(f"JPEG data is corrupt or truncated: {exc}") from None


def _png_chunks_fit(data: bytes) -> bool:
    """Every PNG chunk's declared length lies within the data. OpenCV allocates what a chunk declares (fuzzing found a
    90-byte PNG that made it take 2.4 GB); Pillow checks, so PNGs that fail here go to Pillow."""
    at, size = 8, len(data)
    while at + 8 <= size:
        length = int.from_bytes(data[at:at + 4], "big")
        if length > size - at - 12:
            return False
        if data[at + 4:at + 8] == b"IEND":
            return True
        at += 12 + length
    return False


def _decode_with_opencv(data: bytes, factor: int) -> np.ndarray:
    flags = _OPENCV_REDUCED[factor] | cv2.IMREAD_IGNORE_ORIENTATION
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if bgr is None or bgr.size == 0:
        raise BadInput("image data is corrupt or truncated")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)


def _decode_with_pillow(header: Image.Image, orientation: int | None, min_size: tuple[int, int]) -> np.ndarray:
    """Rotated images and GIFs: a JPEG is drafted (DCT-reduced) and anything else reduced right after loading, as
    far as still covers `min_size` (upright; turned here into the stored orientation)."""
    need = min_size[::-1] if orientation in _ROTATING_ORIENTATIONS else min_size
    if header.format == "JPEG":
        header.draft("RGB", need)
    header.load()
    factor = _reduction(header.size, need)
    image = header.reduce(factor) if factor > 1 and header.mode not in ("P", "1") else header
    image = ImageOps.exif_transpose(image)
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
