"""Face work for both front ends, over the faces task's FaceRecognizer (faces/recognizer.py) and its Gallery.

Every model call runs on one of the faces task's workers (bounded queue; each worker has its own recognizer, since
the face detectors are not re-entrant); gallery reads and edits do not need the queue (SQLite, a connection per
thread).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vigil.errors import BadInput, NotActivated, NotFound
from vigil.faces.enroll import enroll as enroll_sources
from vigil.images import DecodedImage
from vigil.results import Detections
from vigil.serve.engine import FACES, Engine
from vigil.tasks.base import NoOptions


def detect(engine: Engine, data: bytes, deadline: float) -> Detections:
    """Every face (DeepStack /v1/vision/face): boxes and detector scores, no identities."""
    frame = engine.decode(data, full_size=True)
    found = engine.on_runner(FACES, lambda r: r.recognizer.detect(frame.pixels), deadline)
    xyxy = np.array([f.xyxy for f in found], np.float32).reshape(-1, 4) / frame.scale
    return Detections(xyxy, [f.score for f in found], np.zeros(len(found), np.int64),
                      {"quality": np.array([f.quality for f in found], dtype=object)})


def recognize(engine: Engine, data: bytes, deadline: float) -> Detections:
    return engine.run_bytes(FACES, data, NoOptions(), deadline)


def enroll(engine: Engine, name: str, images: list[bytes], deadline: float) -> Any:
    """Add samples of `name`; BadInput when no image gave a usable face (and none was enrolled before)."""
    report = engine.on_runner(FACES, lambda r: enroll_sources(r.recognizer, name, images), deadline)
    if not report.added and not report.skipped:
        reasons = [f"{s}: {e}" for s, e in report.unreadable] + [f"{s}: no usable face" for s in report.no_face]
        raise BadInput(f"no face could be enrolled for {name}: " + "; ".join(reasons))
    return report


def added(report: Any) -> int:
    return len(report.added)


def gallery(engine: Engine) -> Any:
    found = engine.recognizer.gallery
    if found is None:
        raise NotActivated("this face recogniser has no gallery")
    return found


def names(engine: Engine) -> list[str]:
    return sorted(person.name for person in gallery(engine).people())


def forget(engine: Engine, name: str) -> int:
    """DeepStack answered success for a name it did not know; so do we (0 removed)."""
    try:
        return int(gallery(engine).remove(name))
    except NotFound:
        return 0


def match(engine: Engine, first: bytes, second: bytes, deadline: float) -> float:
    """Similarity (1 − embedding distance, floored at 0, as the gallery reports it) of the largest usable face in
    each image; BadInput naming the image that has none."""
    frames = [engine.decode(data, full_size=True) for data in (first, second)]
    vectors = engine.on_runner(FACES, lambda r: [_largest_face_vector(r.recognizer, f, i + 1)
                                                 for i, f in enumerate(frames)], deadline)
    return float(max(0.0, 1.0 - np.linalg.norm(vectors[0] - vectors[1])))


def _largest_face_vector(recognizer: Any, frame: DecodedImage, index: int) -> np.ndarray:
    faces = [f for f in recognizer.detect(frame.pixels) if f.quality == "ok"]
    if not faces:
        raise BadInput(f"image{index}: no usable face (none found, or too small or blurry)")
    largest = max(faces, key=lambda f: (f.xyxy[2] - f.xyxy[0]) * (f.xyxy[3] - f.xyxy[1]))
    vectors, _ = recognizer.embed(frame.pixels, largest.xyxy[None])
    return vectors[0]

