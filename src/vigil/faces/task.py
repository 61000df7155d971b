"""The faces task: every face in a frame and who it is (`/v2/faces/recognize`, `vigil run faces`).

Each face worker gets its own FaceRecognizer (its own BlazeFace interpreter and dlib detector, neither of which may run
in two threads), so face routes scale with cores like detection; the gallery is one per task, shared by the workers
(SQLite with a connection per thread), so an enrolment is seen by every worker at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vigil.faces.gallery.location import open_gallery
from vigil.faces.recognizer import FaceRecognizer
from vigil.formats import native
from vigil.images import DecodedImage
from vigil.results import Detections
from vigil.tasks.base import NoOptions, TaskContext, TaskDef


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
        if context.threads and not config.faces.threads:
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
)
