"""The faces task: every face in a frame and who it is (`/v2/faces/recognize`, `vigil run faces`).

Each face worker gets its own FaceRecognizer (its own BlazeFace interpreter and dlib detector, neither of which may run
in two threads), so face routes scale with cores like detection; the gallery is one per task, shared by the workers
(SQLite with a connection per thread), so an enrolment is seen by every worker at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from vigil.errors import BadInput
from vigil.faces.enroll import EnrollReport, Source
from vigil.faces.enroll import enroll as enroll_sources
from vigil.faces.gallery.location import open_gallery
from vigil.faces.recognizer import FaceRecognizer
from vigil.faces.search import QueryFace, query_faces
from vigil.formats import native
from vigil.imaging.images import DecodedImage
from vigil.results import Detections
from vigil.tasks.base import NoOptions, TaskContext, TaskDef, from_wall_clock


@dataclass(frozen=True)
class FaceInput:
    frame: DecodedImage
    source: str  # where the frame came from, recorded with strangers


class FaceRunner:
    reentrant = False

    def __init__(self, recognizer: FaceRecognizer) -> None:
        self.recognizer = recognizer

    @classmethod
    def load(cls, context: TaskContext) -> FaceRunner:
        config, shared = context.config, context.shared
        if context.threads:  # the executor's thread plan (execute/threads.py), [faces] threads included
            config = config.model_copy(update={"faces": config.faces.model_copy(update={"threads": context.threads})})
        if "gallery" not in shared:
            shared["gallery"] = open_gallery(config.gallery_path())  # SQLite file or postgresql:// URL
        recognizer = FaceRecognizer.load(config, context.store, shared["gallery"], shared.get("embedder"))
        shared["embedder"] = recognizer.embedder
        return cls(recognizer)

    def prepare(self, frame: DecodedImage, options: NoOptions, source: str = "http") -> FaceInput:
        return FaceInput(frame, source)

    def run_batch(self, items: Sequence[FaceInput]) -> list[Detections]:
        return [self.recognizer.recognize(item.frame, item.source) for item in items]


def recognize(frame: DecodedImage, source: str, cluster_wait_s: float, runner: FaceRunner) -> Detections:
    """Every face and who it is; a stranger's cluster is filed before returning when `cluster_wait_s` allows."""
    return runner.recognizer.recognize(frame, source, cluster_wait_s=cluster_wait_s)


def label(frame: DecodedImage, detections: Detections, source: str, wall: float, runner: FaceRunner) -> Detections:
    """The seed's detect_faces on one frame: `face` / `faceProba` on each person box (deadline as wall-clock time)."""
    return runner.recognizer.label_persons(frame, detections, source, from_wall_clock(wall))


def detect(pixels: np.ndarray, runner: FaceRunner) -> list:
    """The faces found (boxes, quality), nobody matched."""
    return runner.recognizer.detect(pixels)


def best_face(pixels: np.ndarray, runner: FaceRunner) -> tuple[np.ndarray, float] | None:
    """The best usable face of a person crop (box in its pixels) and its best-face score (vigil.faces.best)."""
    return runner.recognizer.best_face(pixels)


def enroll(name: str, sources: Sequence[Source], box: Sequence[float] | None, runner: FaceRunner,
           force: bool = False) -> EnrollReport:
    """Enrol; a face that matches another person is refused (listed in the report) unless `force`."""
    return enroll_sources(runner.recognizer, name, list(sources), box=box, force=force)


def search_faces(frame: DecodedImage, runner: FaceRunner) -> tuple[list[QueryFace], int]:
    """The faces of a search photo to look up among sightings (vigil.faces.search), and how many it showed."""
    return query_faces(runner.recognizer, frame)


def largest_vectors(frames: Sequence[DecodedImage], runner: FaceRunner) -> list[np.ndarray]:
    """The embedding of the largest usable face of each frame (BadInput naming the image without one)."""
    return [largest_face_vector(runner.recognizer, frame, i + 1) for i, frame in enumerate(frames)]


def largest_face_vector(recognizer: FaceRecognizer, frame: DecodedImage, number: int) -> np.ndarray:
    faces = [f for f in recognizer.detect(frame.pixels) if f.quality == "ok"]
    if not faces:
        raise BadInput(f"image{number}: no usable face (none found, or too small or blurry)")
    largest = max(faces, key=lambda f: (f.xyxy[2] - f.xyxy[0]) * (f.xyxy[3] - f.xyxy[1]))
    vectors, _ = recognizer.embed(frame.pixels, largest.xyxy[None])
    return vectors[0]


TASK = TaskDef(
    name="faces",
    summary="Every face and who it is",
    route="faces/recognize",
    load=FaceRunner.load,
    encode=native.recognized,
    max_batch=1,
    models=lambda config: FaceRecognizer.models(config.faces),
    preload=lambda config: True,
    tags=("faces",),
    section="faces",
    operations={"recognize": recognize, "label": label, "detect": detect, "best_face": best_face, "enroll": enroll,
                "enroll_forced": partial(enroll, force=True), "largest_vectors": largest_vectors,
                "search_faces": search_faces},
)
