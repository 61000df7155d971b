"""The seed's two calls over the executor, for zerorpc and their /v2 twins: `detect_objects` (frames by path, inside
the media roots, with the seed's frame skip) and `detect_faces` (each entry echoed, persons named)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import numpy as np

from vigil.errors import BadInput, TimedOut
from vigil.execute.bounds import check_count
from vigil.execute.executor import DETECT, Executor, has_person
from vigil.execute.fair import FairShare
from vigil.execute.frameskip import FrameSkip
from vigil.imaging.images import DecodedImage
from vigil.registry.labels import PERSON
from vigil.results import CLASS_NAME, Detections, ImageResult
from vigil.tasks.detect import DetectParams

Waiting = list[tuple[int, Any, DecodedImage]]
LABEL_CHUNK = 2  # person labels per labelling job: a turn of a face worker is a crop or two, never a whole call


def label_slots(executor: Executor) -> int:
    """`[limits] label_jobs`, else the face workers less one (so other face requests always find one free or soon
    free), at least 1; on Ray, where replicas scale, the most replicas a task may have."""
    workers = getattr(executor, "workers", None)
    default = max(1, workers - 1) if workers else executor.config.ray.max_replicas
    return executor.config.limits.label_jobs or default


class SeedCalls:
    """One server's seed calls: its executor and the frame-skip memory both front ends share."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.frame_skip = FrameSkip(executor.config.rpc.conseq_images_to_skip)
        self.labelling = FairShare(label_slots(executor), "labelling persons")  # both front ends share one budget

    def detect_paths(self, paths: Sequence[Any], params: DetectParams, deadline: float) -> list[ImageResult]:
        """detect_objects: one result per path in input order; a bad path gets its own error. Frames are decoded
        one after another while earlier ones wait for or run in the detector."""
        executor = self.executor
        check_count(len(paths), executor.config.limits.max_paths, "paths", "max_paths")
        results: list[ImageResult | None] = [None] * len(paths)
        pending: Waiting = []
        window = 2 * executor.config.server.max_batch * max(1, getattr(executor, "workers", 1))
        for i, path in enumerate(paths):
            if not isinstance(path, str):
                results[i] = ImageResult(str(path), error="each path must be a string")
                continue
            if self.frame_skip.active:  # the previous frame's labels must be known before deciding (seed order)
                self._collect(pending, paths, results, deadline)
                reused = self.frame_skip.reuse(path)
                if reused is not None:
                    results[i] = ImageResult(path, reused)
                    continue
            self._collect(pending, paths, results, deadline, down_to=window - 1)  # one call never floods the queue
            try:
                frame = executor.decode(executor.resolve(path))
                pending.append((i, executor.submit(DETECT, frame, params, deadline), frame))
            except BadInput as exc:
                results[i] = ImageResult(path, error=str(exc))
        self._collect(pending, paths, results, deadline)
        return [r if r is not None else ImageResult(str(p), error="not processed")
                for r, p in zip(results, paths, strict=True)]

    def _collect(self, pending: Waiting, paths: Sequence[str], results: list, deadline: float,
                 down_to: int = 0) -> None:
        while len(pending) > down_to:
            i, future, frame = pending.pop(0)
            try:
                detections = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except (FutureTimeout, TimeoutError):
                future.cancel()
                timeout = self.executor.config.server.request_timeout_s
                raise TimedOut(f"detect_objects: no result within {timeout:g} s") from None
            results[i] = ImageResult(paths[i], detections, frame.width, frame.height)
            self.frame_skip.remember(paths[i], detections)

    def label_entries(self, entries: Sequence[ImageResult], deadline: float) -> list[ImageResult]:
        """detect_faces: echo every entry; on entries with a person, add face/faceProba to each label, by the face
        pipeline or the whole-person classifier as `[recognize] by` says."""
        return [self._label_entry(entry, deadline) for entry in entries]

    def _label_entry(self, entry: ImageResult, deadline: float) -> ImageResult:
        if entry.error or not has_person(entry.detections):
            return entry
        executor = self.executor
        try:
            frame = executor.decode(executor.resolve(entry.image), full_size=True)
        except BadInput as exc:
            return ImageResult(entry.image, entry.detections, error=str(exc))
        labelled = self._label_in_turns(frame, entry.detections, entry.image, deadline)
        return ImageResult(entry.image, labelled, frame.width, frame.height)

    def _label_in_turns(self, frame: DecodedImage, detections: Detections, source: str, deadline: float
                        ) -> Detections:
        """The entry's persons LABEL_CHUNK at a time, each chunk one job in its turn of the labelling budget, so
        other callers' work (and every other face request) is never queued behind a whole call."""
        persons = (detections.data[CLASS_NAME] == PERSON).nonzero()[0]
        face, proba = np.full(len(detections), None, dtype=object), np.full(len(detections), None, dtype=object)
        for start in range(0, len(persons), LABEL_CHUNK):
            chunk = persons[start:start + LABEL_CHUNK]
            with self.labelling.turn(deadline):
                done = self.executor.label_persons(frame, detections[chunk], source, deadline)
            face[chunk], proba[chunk] = done.data["face"], done.data["faceProba"]
        return Detections(detections.xyxy.copy(), detections.score.copy(), detections.class_id.copy(),
                          {**detections.data, "face": face, "faceProba": proba})
