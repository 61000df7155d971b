"""Face work for both front ends, against the FaceRecognizer / Gallery interface (models/faces.py, store/gallery.py).

Every model call goes through the engine's faces queue (bounded, one at a time); gallery reads do not.
"""

from __future__ import annotations

from typing import Any

from vigil.errors import BadInput, NotActivated, NotFound
from vigil.results import Detections
from vigil.serve.engine import Engine


def detect(engine: Engine, data: bytes, deadline: float) -> Detections:
    frame = engine.decode(data, full_size=True)
    recognizer = engine.recognizer
    if hasattr(recognizer, "detect"):
        return engine.run_model(lambda: recognizer.detect(frame), deadline)
    return engine.run_model(lambda: recognizer.recognize(frame), deadline)


def recognize(engine: Engine, data: bytes, deadline: float) -> Detections:
    frame = engine.decode(data, full_size=True)
    recognizer = engine.recognizer
    return engine.run_model(lambda: recognizer.recognize(frame), deadline)


def enroll(engine: Engine, name: str, images: list[bytes], deadline: float) -> Any:
    recognizer = engine.recognizer
    report = engine.run_model(lambda: recognizer.enroll(name, images), deadline)
    if added(report) == 0:
        raise BadInput(f"no usable face in the {len(images)} image(s) sent for {name}")
    return report


def added(report: Any) -> int:
    for field in ("added", "enrolled", "accepted"):
        value = getattr(report, field, None)
        if value is not None:
            return value if isinstance(value, int) else len(value)
    return 0


def gallery(engine: Engine) -> Any:
    recognizer = engine.recognizer
    found = getattr(recognizer, "gallery", None)
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
    recognizer = engine.recognizer
    if not hasattr(recognizer, "compare"):
        raise NotActivated("face match is not available with this face recogniser")
    frames = engine.decode(first, full_size=True), engine.decode(second, full_size=True)
    return float(engine.run_model(lambda: recognizer.compare(*frames), deadline))


def as_labels(found: Detections) -> Detections:
    """Recogniser output as seed labels: name "face", `face` = the person (None when unknown), `faceProba` = the
    similarity. The seed format carries identities this way, so /v2 answers need no other shape."""
    import numpy as np

    names = found.data.get("name", np.array(["unknown"] * len(found), dtype=object))
    similarity = found.data.get("similarity", found.score)
    who = np.array([None if str(n) in ("unknown", "uncertain") else str(n) for n in names], dtype=object)
    return Detections(found.xyxy, found.score, np.zeros(len(found), np.int64),
                      {"class_name": np.array(["face"] * len(found), dtype=object), "face": who,
                       "faceProba": np.asarray(similarity, dtype=np.float32)})
