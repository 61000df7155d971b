"""`vigil batch`: detection, faces and crowd counts over archives — image files, folder trees, videos sampled at --fps.

Each image gives the entry `vigil detect --json` gives for it (the seed format; video frames add `frame` and
`time`), plus `worker` (the pid, and the Ray actor when one ran it). Three ways to run the same BatchWorker:
a plain loop (one worker), a pool of processes (one pipeline per core; spawned, because loaded models are not
fork-safe), or Ray Data (batch_ray.py, the `scale` extra, handed in by the caller: this module never imports Ray).

The output file is the journal: entries are appended, flushed, as they finish, so an interrupted run restarts
where it stopped and never does an image twice (a line cut by the interruption is dropped and redone). When
everything is done the file is rewritten in input order; a .parquet output is journalled in a `.jsonl`
beside it and converted at the end.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vigil.config import VigilConfig
from vigil.errors import BadInput, VigilError
from vigil.formats.seed import to_seed
from vigil.images import DecodedImage
from vigil.results import ImageResult

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".ts"})
TASKS = ("detect", "faces", "crowd")
CHUNK = 4  # items per pool task or Ray batch: small, so the progress bar and the journal move steadily


@dataclass(frozen=True)
class Item:
    """One image to process: a file, or one frame of a video."""

    path: str
    frame: int = -1  # -1: the file is an image
    time: float = 0.0  # seconds into the video

    @property
    def key(self) -> str:
        return self.path if self.frame < 0 else f"{self.path}#{self.frame}"


def entry_key(entry: dict[str, Any]) -> str:
    return entry["image"] if "frame" not in entry else f"{entry['image']}#{entry['frame']}"


# --- sources ----------------------------------------------------------------------------------------------
def expand(sources: Sequence[str | Path], fps: float = 1.0) -> list[Item]:
    """Every image in input order: files as given, folder trees sorted, videos sampled at `fps`."""
    items: list[Item] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in
                           IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            items += [i for p in found for i in _file_items(p, fps)]
        else:
            items += _file_items(path, fps)
    return items


def _file_items(path: Path, fps: float) -> list[Item]:
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return [Item(str(path))]
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        native = capture.get(cv2.CAP_PROP_FPS) or 25.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()
    if count <= 0:
        return [Item(str(path), 0)]  # unreadable: the worker reports the error for it
    step = max(1, round(native / fps)) if fps > 0 else 1
    return [Item(str(path), n, round(n / native, 3)) for n in range(0, count, step)]


# --- the worker: one pipeline, models loaded once ----------------------------------------------------------
class BatchWorker:
    def __init__(self, config: dict[str, Any], tasks: Sequence[str], actor: str = "") -> None:
        from vigil.pipeline import Pipeline

        self.pipeline = Pipeline(VigilConfig.model_validate(config)).setup()
        self.faces = "faces" in tasks
        if self.faces:
            _ = self.pipeline.faces  # load now, not on the first person
        self.crowd = _load_crowd(self.pipeline) if "crowd" in tasks else None
        self.worker = {"pid": os.getpid(), "actor": actor}

    def run(self, items: Iterable[Item]) -> list[dict[str, Any]]:
        """Entries for `items`, in order. Every frame is decoded and prepared first, then the frames share session
        runs (the batch axis gives bitwise the same outputs as one run per frame, for less work per frame)."""
        items = list(items)
        decoded = [self._decode(item) for item in items]
        ready = [i for i, d in enumerate(decoded) if isinstance(d, DecodedImage)]
        found = dict(zip(ready, self.pipeline.detect_prepared([self.pipeline.prepare(decoded[i]) for i in ready]),
                         strict=True))
        entries = []
        for i, (item, frame) in enumerate(zip(items, decoded, strict=True)):
            if isinstance(frame, BadInput):
                entries.append(self._entry(item, ImageResult(image=item.path, error=str(frame)), None))
            else:
                result = ImageResult(item.path, found[i], frame.width, frame.height)
                entries.append(self._entry(item, result, frame if item.frame >= 0 else None))
        return entries

    def _decode(self, item: Item) -> DecodedImage | BadInput:
        """The frame detection sees (an image file reduced while decoding, as `vigil detect` does), or why not."""
        try:
            return self.pipeline.decode(Path(item.path)) if item.frame < 0 else read_video_frame(item.path, item.frame)
        except VigilError as exc:
            return BadInput(str(exc))

    def _entry(self, item: Item, result: ImageResult, full: DecodedImage | None) -> dict[str, Any]:
        """The seed entry plus the other tasks' fields. `full` is the full-size frame when one is at hand (a video
        frame); an image file is decoded again at full size only when a task wants every pixel."""
        crowd: dict[str, Any] | None = None
        label_faces = self.faces and result.error is None and _has_person(result)
        if result.error is None and (self.crowd is not None or label_faces):
            try:
                full = full or self.pipeline.decode(Path(item.path), full_size=True)
                if label_faces:
                    labelled = self.pipeline.faces.label_persons(full, result.detections, item.key)
                    result = ImageResult(result.image, labelled, result.width, result.height)
                crowd = self._crowd(full)
            except VigilError as exc:
                result = ImageResult(image=item.path, error=str(exc))
        entry = to_seed(result)
        if item.frame >= 0:
            entry.update(frame=item.frame, time=item.time)
        if crowd is not None:
            entry["crowd"] = crowd
        entry["worker"] = self.worker
        return entry

    def _crowd(self, frame: DecodedImage) -> dict[str, Any] | None:
        """`vigil crowd count --json`'s fields for this frame (count, level, estimator, people), or None."""
        if self.crowd is None:
            return None
        from vigil.formats.native import crowd

        fields = crowd("", self.crowd.estimate(frame))
        return {k: v for k, v in fields.items() if k not in ("image", "width", "height")}


def _has_person(result: ImageResult) -> bool:
    names = result.detections.data.get("class_name")
    return names is not None and "person" in set(names.tolist())


def _load_crowd(pipeline: Any) -> Any:
    from vigil.tasks.base import TaskContext
    from vigil.tasks.crowd import CrowdCounter

    return CrowdCounter.load(TaskContext(pipeline.config, pipeline.store))


def read_video_frame(path: str, index: int) -> DecodedImage:
    import cv2

    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise BadInput(f"{path}: not a readable video")
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = capture.read()
    finally:
        capture.release()
    if not ok:
        raise BadInput(f"{path}: frame {index} could not be read")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return DecodedImage(rgb, rgb.shape[1], rgb.shape[0])


# --- the journal: the output file itself ---------------------------------------------------------------------
class Journal:
    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        if self.out.suffix.lower() not in (".jsonl", ".parquet"):
            raise BadInput(f"{self.out}: the output must end in .jsonl or .parquet")
        self.path = self.out if self.out.suffix.lower() == ".jsonl" else self.out.with_suffix(".parquet.jsonl")
        self.entries: dict[str, dict[str, Any]] = {}
        if self.out != self.path and self.out.exists() and not self.path.exists():
            self._load_parquet()
        elif self.path.exists():
            self._load_lines()

    def _load_lines(self) -> None:
        data = self.path.read_bytes()
        whole = data[:data.rfind(b"\n") + 1]  # a line cut by an interruption is redone
        for line in whole.splitlines():
            entry = json.loads(line)
            self.entries[entry_key(entry)] = entry
        if len(whole) != len(data):
            with self.path.open("r+b") as f:
                f.truncate(len(whole))

    def _load_parquet(self) -> None:
        import pyarrow.parquet as pq

        for row in pq.read_table(self.out).to_pylist():
            entry = json.loads(row["entry"])
            self.entries[entry_key(entry)] = entry
        self._write(self.path, self.entries.values())

    def append(self, entries: Iterable[dict[str, Any]]) -> None:
        lines = []
        for entry in entries:
            self.entries[entry_key(entry)] = entry
            lines.append(json.dumps(entry) + "\n")
        with self.path.open("a") as f:
            f.write("".join(lines))
            f.flush()
            os.fsync(f.fileno())

    def finish(self, items: Sequence[Item]) -> None:
        """Everything done: the output in input order (and in Parquet when asked)."""
        wanted = [i.key for i in items if i.key in self.entries]
        others = set(self.entries) - set(wanted)  # from earlier runs over other sources: kept, after these
        ordered = [self.entries[k] for k in wanted] + [e for k, e in self.entries.items() if k in others]
        if self.out == self.path:
            self._write(self.path, ordered)
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"image": [e["image"] for e in ordered], "frame": [e.get("frame", -1) for e in ordered],
                          "entry": [json.dumps(e) for e in ordered]})
        pq.write_table(table, self.out.with_suffix(".parquet.tmp"))
        os.replace(self.out.with_suffix(".parquet.tmp"), self.out)
        self.path.unlink()

    @staticmethod
    def _write(path: Path, entries: Iterable[dict[str, Any]]) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text("".join(json.dumps(e) + "\n" for e in entries))
        os.replace(tmp, path)


# --- runners -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchReport:
    out: str
    images: int
    skipped: int  # done by an earlier, interrupted run
    processed: int
    errors: int
    runner: str


Progress = Callable[[int], None]
# a runner elsewhere (batch_ray.ray_runner): (items, settings, tasks) -> chunks of entries as they finish
Runner = Callable[[Sequence[Item], dict[str, Any], Sequence[str]], Iterator[list[dict[str, Any]]]]


def run_batch(sources: Sequence[str | Path], out: Path, config: VigilConfig, tasks: Sequence[str] = ("detect",),
              fps: float = 1.0, workers: int = 0, remote: tuple[str, Runner] | None = None,
              progress: Callable[[int, int], Progress] | None = None) -> BatchReport:
    """Process every image not already in `out`, in-process or on `remote` (name, runner); `progress(total,
    done)` returns a per-entry callback."""
    unknown = set(tasks) - set(TASKS)
    if unknown or "detect" not in tasks:
        raise BadInput(f"--tasks: detect plus any of {', '.join(TASKS[1:])}; unknown: {', '.join(sorted(unknown))}")
    items = expand(sources, fps)
    journal = Journal(out)
    todo = [i for i in items if i.key not in journal.entries]
    advance = progress(len(items), len(items) - len(todo)) if progress else (lambda n: None)
    settings, runner = config.model_dump(mode="json"), "loop"
    if remote is not None or workers != 1:  # many pipelines side by side: one inference thread each
        for section in ("detect", "faces", "crowd"):
            settings[section]["threads"] = settings[section]["threads"] or 1
    if todo and remote is not None:
        runner, results = remote[0], remote[1](todo, settings, tasks)
    elif todo:
        workers = workers or os.cpu_count() or 1
        runner = "loop" if workers == 1 else f"pool of {workers}"
        results = _run_loop(todo, settings, tasks) if workers == 1 else _run_pool(todo, settings, tasks, workers)
    else:
        results = iter(())
    processed = 0
    for entries in results:
        journal.append(entries)
        processed += len(entries)
        advance(len(entries))
    journal.finish(items)
    errors = sum(1 for e in journal.entries.values() if "error" in e)
    return BatchReport(str(out), len(items), len(items) - len(todo), processed, errors, runner)


def chunks(items: Sequence[Item], size: int = CHUNK) -> list[list[Item]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def _run_loop(items: Sequence[Item], settings: dict, tasks: Sequence[str]) -> Iterator[list[dict]]:
    worker = BatchWorker(settings, tasks)
    for chunk in chunks(items):
        yield worker.run(chunk)


_POOL_WORKER: BatchWorker | None = None


def _pool_init(settings: dict, tasks: Sequence[str]) -> None:
    global _POOL_WORKER
    _POOL_WORKER = BatchWorker(settings, tasks)


def _pool_run(chunk: list[Item]) -> list[dict]:
    assert _POOL_WORKER is not None
    return _POOL_WORKER.run(chunk)


def _run_pool(items: Sequence[Item], settings: dict, tasks: Sequence[str], workers: int) -> Iterator[list[dict]]:
    context = multiprocessing.get_context("spawn")  # models are loaded in each worker, never forked
    with context.Pool(workers, _pool_init, (settings, list(tasks))) as pool:
        yield from pool.imap_unordered(_pool_run, chunks(items))
