import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import fixture_image
from vigil.errors import BadInput
from vigil.imaging import images


def jpeg_bytes(array: np.ndarray, quality: int = 90, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=quality, exif=exif or Image.Exif())
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height: a decompression bomb never needs real pixel data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def gradient(width: int = 640, height: int = 360) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None, None]
    return np.concatenate([np.broadcast_to(x, (height, width, 1)), np.broadcast_to(y, (height, width, 1)),
                           np.full((height, width, 1), 80, np.uint8)], axis=2)


def test_real_jpeg_decodes_full_size_rgb():
    frame = images.load(fixture_image("vtest_000.jpg"))
    assert frame.pixels.shape == (576, 768, 3) and frame.pixels.dtype == np.uint8
    assert (frame.width, frame.height, frame.scale) == (768, 576, 1.0)


def test_large_jpeg_decodes_at_reduced_scale_but_reports_full_size():
    data = jpeg_bytes(gradient(1920, 1080))
    frame = images.decode(data, fit=(416, 416))
    assert (frame.width, frame.height) == (1920, 1080)
    assert frame.pixels.shape[:2] == (270, 480)  # 1/4 scale still covers the 416×234 the model needs
    assert frame.scale == 0.25


def test_reduced_decode_never_goes_below_what_the_model_needs():
    frame = images.decode(jpeg_bytes(gradient(800, 600)), fit=(416, 416))
    assert frame.pixels.shape[1] >= 416 and frame.pixels.shape[0] >= 312


def test_exif_orientation_is_honoured():
    tall = gradient(200, 100)  # stored landscape, EXIF says rotate 90° → shown portrait
    exif = Image.Exif()
    exif[0x0112] = 6
    frame = images.decode(jpeg_bytes(tall, exif=exif), fit=(416, 416))
    assert (frame.width, frame.height) == (100, 200)
    assert frame.pixels.shape[:2] == (200, 100)


def test_png_and_grayscale_become_rgb():
    buffer = io.BytesIO()
    Image.fromarray(gradient(64, 48)[:, :, 0]).save(buffer, "PNG")
    frame = images.decode(buffer.getvalue())
    assert frame.pixels.shape == (48, 64, 3)


@pytest.mark.parametrize(
    ("data", "limits", "message"),
    [
        (b"", images.ImageLimits(), "zero bytes"),
        (b"this is a text file, not a picture\n" * 4, images.ImageLimits(), "not a recognised image"),
        (png_header_only(30000, 30000), images.ImageLimits(), "over the 33177600 limit"),
        (b"x" * 2048, images.ImageLimits(max_bytes=1024), "over the 1024-byte limit"),
        (jpeg_bytes(gradient(64, 48)), images.ImageLimits(formats=frozenset({"PNG"})), "JPEG is not allowed"),
    ],
    ids=["empty", "text", "png-bomb", "too-many-bytes", "format-not-allowed"],
)
def test_bad_input_is_refused_with_a_clear_reason(data, limits, message):
    with pytest.raises(BadInput, match=message):
        images.decode(data, limits)


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_jpeg_is_refused(cut):
    data = fixture_image("vtest_000.jpg").read_bytes()
    with pytest.raises(BadInput, match="corrupt or truncated"):
        images.decode(data[: int(len(data) * cut)])


def test_missing_file_and_directory(tmp_path: Path):
    with pytest.raises(BadInput, match="no such file"):
        images.load(tmp_path / "absent.jpg")
    with pytest.raises(BadInput, match="directory"):
        images.load(tmp_path)


def test_media_root_allows_inside_and_refuses_escapes(tmp_path: Path):
    root, outside = tmp_path / "events", tmp_path / "secret"
    root.mkdir()
    outside.mkdir()
    (root / "a.jpg").write_bytes(b"x")
    (outside / "b.jpg").write_bytes(b"x")
    (root / "link.jpg").symlink_to(outside / "b.jpg")
    assert images.resolve_media_path(str(root / "a.jpg"), [root]) == (root / "a.jpg").resolve()
    for escape in [str(root / ".." / "secret" / "b.jpg"), str(root / "link.jpg"), "/etc/passwd", "a.jpg\x00"]:
        with pytest.raises(BadInput):
            images.resolve_media_path(escape, [root])


def test_mount_point_is_prepended(tmp_path: Path):
    (tmp_path / "nvr" / "cam").mkdir(parents=True)
    (tmp_path / "nvr" / "cam" / "1.jpg").write_bytes(b"x")
    resolved = images.resolve_media_path("/nvr/cam/1.jpg", [tmp_path / "nvr"], mount_point=str(tmp_path))
    assert resolved == (tmp_path / "nvr" / "cam" / "1.jpg").resolve()
