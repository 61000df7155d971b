"""What people see of watched frames: each event's annotated snapshot, and each camera's latest frame as a small
JPEG (the status page)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simplejpeg

from vigil.formats.events import FACE
from vigil.imaging import annotate
from vigil.results import CLASS_NAME, Detections

SNAPSHOT_QUALITY = 80
THUMBNAIL_SIDE = 320  # the last frame of each camera, as the status page shows it


@dataclass(frozen=True)
class LastFrame:
    """A camera's latest processed frame: when, which file, and a small JPEG of it."""

    time: float
    path: str
    thumbnail: bytes | None


def snapshot(pixels: np.ndarray, objects: Detections, faces: Detections | None) -> bytes:
    """The frame as a JPEG with its objects and faces drawn (names on the faces)."""
    drawn = annotate.draw(pixels, _drawable(objects, faces))
    return simplejpeg.encode_jpeg(np.ascontiguousarray(drawn[:, :, :3]), quality=SNAPSHOT_QUALITY, colorspace="RGB")


def thumbnail_jpeg(pixels: np.ndarray) -> bytes:
    step = max(1, -(-max(pixels.shape[:2]) // THUMBNAIL_SIDE))
    small = np.ascontiguousarray(pixels[::step, ::step, :3])
    return simplejpeg.encode_jpeg(small, quality=70, colorspace="RGB")


def _drawable(objects: Detections, faces: Detections | None) -> Detections:
    parts = [Detections(objects.xyxy, objects.score, objects.class_id,
                        {CLASS_NAME: objects.data.get(CLASS_NAME, np.array([str(c) for c in objects.class_id],
                                                                                dtype=object)),
                         "face": np.full(len(objects), None, dtype=object)})]
    if faces is not None and len(faces):
        parts.append(Detections(faces.xyxy, faces.score, np.zeros(len(faces), np.int64),
                                {CLASS_NAME: np.full(len(faces), FACE, dtype=object),
                                 "face": np.array([str(n) for n in faces.data["name"]], dtype=object)}))
    return Detections.merge(parts)
