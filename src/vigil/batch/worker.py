"""One batch worker: an inline executor with the asked tasks loaded once (a process of the pool, a Ray actor, or
the plain loop), turning items into entries.

An entry is what `vigil detect --json` gives for the image (`image`, `labels` …; with `faces`, person labels gain
`face` / `faceProba`), plus `frame`, `time`, `camera`, `worker`, and one key per other task named after it holding
that task's native JSON (`"presence": {...}`, `"crowd": {...}`). A bad image fails only its own entry.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from vigil.batch.sources import Item, read_video_frame
from vigil.config.settings import VigilConfig
from vigil.errors import VigilError
from vigil.execute.executor import DETECT, FACES, has_person
from vigil.execute.local import Inline
from vigil.formats.seed import to_seed
from vigil.imaging.images import DecodedImage
from vigil.results import ImageResult
from vigil.tasks.base import get
from vigil.tasks.detect import DetectParams

HIDDEN = ("image", "width", "height")  # a task's answer beside the entry: the entry says these already


class BatchWorker:
    def __init__(self, config: dict[str, Any], tasks: Sequence[str], actor: str = "", share: int | None = None
                 ) -> None:
        self.executor = Inline(VigilConfig.model_validate(config), share=share)
        self.tasks = list(tasks)
        for name in self.tasks:
            self.executor.load(name)  # now, not on the first image: a model that cannot load fails the run at once
        self.others = [t for t in self.tasks if t not in (DETECT, FACES)]
        self.worker = {"pid": os.getpid(), "actor": actor}

    def run(self, items: Iterable[Item]) -> list[dict[str, Any]]:
        """Entries for `items`, in order. Every frame is decoded first, then the frames share detector session runs
        (the batch axis gives bitwise the same outputs as one run per frame, for less work per frame)."""
        items = list(items)
        decoded = [self._decode(item) for item in items]
        found = self._detect(decoded) if DETECT in self.tasks else {}
        return [self._entry(item, frame, found.get(i)) for i, (item, frame) in enumerate(zip(items, decoded,
                                                                                             strict=True))]

    def _decode(self, item: Item) -> DecodedImage | VigilError:
        """The frame detection sees (an image file reduced while decoding, as `vigil detect` does), or why not."""
        try:
            if item.frame >= 0:
                return read_video_frame(item.path, item.frame)
            return self.executor.decode(Path(item.path), full_size=DETECT not in self.tasks)
        except VigilError as exc:
            return exc

    def _detect(self, decoded: list[DecodedImage | VigilError]) -> dict[int, Any]:
        ready = [i for i, d in enumerate(decoded) if isinstance(d, DecodedImage)]
        frames = [decoded[i] for i in ready]
        results = self.executor.run_many(DETECT, frames, DetectParams(), self.executor.deadline())
        return dict(zip(ready, results, strict=True))

    def _entry(self, item: Item, frame: DecodedImage | VigilError, found: Any) -> dict[str, Any]:
        if isinstance(frame, VigilError) or isinstance(found, VigilError):
            return self._finish(item, to_seed(ImageResult(image=item.path, error=str(frame if isinstance(
                frame, VigilError) else found))), {})
        result = ImageResult(item.path, found, frame.width, frame.height) if found is not None else None
        try:
            full = frame if item.frame >= 0 or DETECT not in self.tasks else None
            if result is not None and FACES in self.tasks and has_person(result.detections):
                full = full or self.executor.decode(Path(item.path), full_size=True)
                labelled = self.executor.label_persons(full, result.detections, item.key, self.executor.deadline())
                result = ImageResult(result.image, labelled, result.width, result.height)
            others = self._others(item, full) if self.others else {}
        except VigilError as exc:
            return self._finish(item, to_seed(ImageResult(image=item.path, error=str(exc))), {})
        entry = to_seed(result) if result is not None else {"image": item.path}
        return self._finish(item, entry, others)

    def _others(self, item: Item, full: DecodedImage | None) -> dict[str, Any]:
        """Each other task's native JSON for this image, on the full-size frame (decoded once, when first needed)."""
        frame = full or self.executor.decode(Path(item.path), full_size=True)
        answers = {}
        for name in self.others:
            task = get(name)
            answer = task.encode(item.path, self.executor.run(name, frame, task.options(), self.executor.deadline()))
            answers[name] = {k: v for k, v in answer.items() if k not in HIDDEN}
        return answers

    def _finish(self, item: Item, entry: dict[str, Any], others: dict[str, Any]) -> dict[str, Any]:
        entry.update(frame=item.frame if item.frame >= 0 else None, time=item.time, camera=item.camera)
        entry.update(others)
        entry["worker"] = self.worker
        return entry
