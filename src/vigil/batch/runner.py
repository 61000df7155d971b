"""`vigil batch`: any registered tasks over archives (image files, folder trees, videos sampled at --fps), into a
JSONL or Parquet journal (batch/journal.py). Three ways to run the same BatchWorker (batch/worker.py): a plain loop
(one worker), a pool of processes (one inline executor per core; spawned, because loaded models are not fork-safe),
or Ray Data (batch/on_ray.py, the `scale` extra, handed in by the caller: this module never imports Ray).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vigil.batch.journal import Journal
from vigil.batch.sources import Item, expand
from vigil.batch.worker import BatchWorker
from vigil.config.settings import VigilConfig
from vigil.errors import BadInput
from vigil.execute.executor import DETECT, FACES
from vigil.tasks.discover import discover

CHUNK = 4  # items per pool task or Ray batch: small, so the progress bar and the journal move steadily


def checked_tasks(tasks: Sequence[str]) -> list[str]:
    """Any registered tasks, in order, once each; faces name the persons the detector finds, so they bring it."""
    known = discover()
    unknown = [t for t in tasks if t not in known]
    if unknown or not tasks:
        raise BadInput(f"--tasks: any of {', '.join(sorted(known))}; unknown: {', '.join(unknown) or 'none given'}")
    wanted = list(dict.fromkeys(tasks))
    if FACES in wanted and DETECT not in wanted:
        wanted.insert(0, DETECT)
    return wanted


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
# a runner elsewhere (batch/on_ray.py: ray_runner): (items, settings, tasks) -> chunks of entries as they finish
Runner = Callable[[Sequence[Item], dict[str, Any], Sequence[str]], Iterator[list[dict[str, Any]]]]


def run_batch(sources: Sequence[str | Path], out: Path, config: VigilConfig, tasks: Sequence[str] = ("detect",),
              fps: float = 1.0, workers: int = 0, remote: tuple[str, Runner] | None = None,
              progress: Callable[[int, int], Progress] | None = None) -> BatchReport:
    """Process every image not already in `out`, in-process or on `remote` (name, runner); `progress(total,
    done)` returns a per-entry callback."""
    tasks = checked_tasks(tasks)
    items = expand(sources, fps, config.watch)
    journal = Journal(out)
    todo = [i for i in items if i.key not in journal.entries]
    advance = progress(len(items), len(items) - len(todo)) if progress else (lambda n: None)
    settings, runner = config.model_dump(mode="json"), "loop"
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
    worker = BatchWorker(settings, tasks)  # alone: every core
    for chunk in chunks(items):
        yield worker.run(chunk)


_POOL_WORKER: BatchWorker | None = None


def _pool_init(settings: dict, tasks: Sequence[str], share: int) -> None:
    global _POOL_WORKER
    _POOL_WORKER = BatchWorker(settings, tasks, share=share)  # side by side: the cores shared


def _pool_run(chunk: list[Item]) -> list[dict]:
    assert _POOL_WORKER is not None
    return _POOL_WORKER.run(chunk)


def _run_pool(items: Sequence[Item], settings: dict, tasks: Sequence[str], workers: int) -> Iterator[list[dict]]:
    context = multiprocessing.get_context("spawn")  # models are loaded in each worker, never forked
    with context.Pool(workers, _pool_init, (settings, list(tasks), workers)) as pool:
        yield from pool.imap_unordered(_pool_run, chunks(items))
