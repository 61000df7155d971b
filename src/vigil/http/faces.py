"""Face work for both front ends, over the faces task's FaceRecognizer (faces/recognizer.py) and its Gallery.

Every model call runs on one of the faces task's workers (bounded queue; each worker has its own recognizer, since
the face detectors are not re-entrant); gallery reads and edits do not need the queue (SQLite, a connection per
thread).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vigil.errors import BadInput, NotActivated, NotFound
from vigil.events.log import EventLog
from vigil.execute.bounds import check_count
from vigil.execute.executor import FACES, Executor
from vigil.faces.gallery.schema import person_name
from vigil.results import Detections
from vigil.tasks.base import NoOptions

FORCE = "enrol a face that already matches another person (answered 409 with `matches` otherwise)"

def detect(executor: Executor, data: bytes, deadline: float) -> Detections:
    """Every face (DeepStack /v1/vision/face): boxes and detector scores, no identities."""
    frame = executor.decode(data, full_size=True)
    found = executor.call(FACES, "detect", frame.pixels, deadline=deadline)
    xyxy = np.array([f.xyxy for f in found], np.float32).reshape(-1, 4) / frame.scale
    return Detections(xyxy, [f.score for f in found], np.zeros(len(found), np.int64),
                      {"quality": np.array([f.quality for f in found], dtype=object)})


def recognize(executor: Executor, data: bytes, deadline: float) -> Detections:
    return executor.run_bytes(FACES, data, NoOptions(), deadline)


def enroll(executor: Executor, name: str, images: Sequence[Any], deadline: float, force: bool = False,
           log: EventLog | None = None) -> Any:
    """Add samples of `name`; MatchesAnother (409) when a face already matches someone else and not `force`;
    BadInput when no image gave a usable face (and none was enrolled before). The stranger clusters it absorbed
    carry the name in `log` (the event log, when there is one) whatever else happened."""
    name = person_name(name)  # the one name rule, before any image is decoded (/v1 userid, /v2, the page)
    check_count(len(images), executor.config.limits.max_enroll_images, "images", "max_enroll_images")
    report = enrolled(executor, log, name, images, None, deadline, force)
    refusal = report.conflict()
    if refusal is not None:
        raise refusal
    if not report.added and not report.skipped:
        reasons = [f"{s}: {e}" for s, e in report.unreadable] + [f"{s}: no usable face" for s in report.no_face]
        raise BadInput(f"no face could be enrolled for {name}: " + "; ".join(reasons))
    return report


def enrolled(executor: Executor, log: EventLog | None, name: str, images: Sequence[Any], box: list[float] | None,
             deadline: float, force: bool) -> Any:
    """The faces task's enrolment, then the absorbed clusters' past events relabelled (the page calls this too)."""
    report = executor.call(FACES, "enroll_forced" if force else "enroll", name, images, box, deadline=deadline)
    if log is not None and report.absorbed:
        log.relabel_absorbed(report)
    return report


def added(report: Any) -> int:
    return len(report.added)


def warning(report: Any) -> str | None:
    """DeepStack register enrols a matching face anyway (its clients cannot confirm) and says so."""
    if not report.matches:
        return None
    return "; ".join(f"{source} already matches {other}" for source, other in report.matches)


def gallery(executor: Executor) -> Any:
    found = executor.recognizer.gallery
    if found is None:
        raise NotActivated("this face recogniser has no gallery")
    return found


def names(executor: Executor) -> list[str]:
    return sorted(person.name for person in gallery(executor).people())


def forget(executor: Executor, name: str) -> int:
    """DeepStack answered success for a name it did not know; so do we (0 removed)."""
    try:
        return int(gallery(executor).remove(name))
    except NotFound:
        return 0


def match(executor: Executor, first: bytes, second: bytes, deadline: float) -> float:
    """Similarity (1 − embedding distance, floored at 0, as the gallery reports it) of the largest usable face in
    each image; BadInput naming the image that has none."""
    frames = [executor.decode(data, full_size=True) for data in (first, second)]
    vectors = executor.call(FACES, "largest_vectors", frames, deadline=deadline)
    return float(max(0.0, 1.0 - np.linalg.norm(vectors[0] - vectors[1])))
