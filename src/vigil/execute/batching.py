"""The shared bounded queue and micro-batcher that both front ends use (decode, batch, predict, unbatch).

Requests are decoded and preprocessed in their own threads; only the model run goes through a queue per model.
A worker takes the oldest job and, without waiting, every job already queued behind it (up to `max_batch`), and runs
them together. So a lone client pays no batching delay, and under load batches form from what piled up during the
previous run. The queue is bounded: a full queue raises Overloaded (HTTP 503 + Retry-After) at once instead of
letting latency grow without bound. A job whose caller stopped waiting is dropped before it costs a model run.

With `runners` (one per worker, for runtimes that are not re-entrant), worker i runs its batches on `runners[i]` only,
so no runner ever sees two threads; an `OnRunner` job hands the worker's runner to a function (enrolment, face match).
A `lone` runner (its sessions on every core) takes a batch when it is the only work: nothing else queued or running,
so a lone request is as fast as on a one-worker server while concurrent ones share the cores (execute/threads.py).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from vigil.errors import Overloaded, TimedOut

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Job(Generic[T]):
    item: T
    deadline: float
    future: Future = field(default_factory=Future)


class OnRunner:
    """A job that needs the worker's runner itself rather than its `run_batch`."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn


def run_on(runner: Any, items: Sequence[Any]) -> list[Any]:
    """Plain items through `runner.run_batch` together, OnRunner jobs each on the runner; results in input order."""
    results: list[Any] = [None] * len(items)
    plain = [i for i, item in enumerate(items) if not isinstance(item, OnRunner)]
    if plain:
        for i, result in zip(plain, runner.run_batch([items[i] for i in plain]), strict=True):
            results[i] = result
    for i, item in enumerate(items):
        if isinstance(item, OnRunner):
            results[i] = item.fn(runner)
    return results


class BatchObserver:
    """What a batcher reports (metrics); the default ignores everything."""

    def batch(self, name: str, size: int, seconds: float) -> None: ...

    def rejected(self, name: str) -> None: ...


class MicroBatcher(Generic[T, R]):
    """Runs `run_batch(items) -> results` (same length, same order) on worker threads for queued jobs; or, given
    `runners`, one worker per runner, each running `run_on(its runner, items)`."""

    def __init__(self, name: str, run_batch: Callable[[Sequence[T]], Sequence[R]] | None = None, max_batch: int = 4,
                 queue_size: int = 64, workers: int = 1, retry_after_s: int = 1,
                 observer: BatchObserver | None = None, runners: Sequence[Any] | None = None,
                 label: str | None = None, lone: Any = None) -> None:
        if (run_batch is None) == (runners is None):
            raise ValueError("MicroBatcher takes run_batch or runners")
        self.name, self.max_batch, self.retry_after_s = name, max_batch, retry_after_s
        self.label = label or name  # what metrics call it
        if runners is not None:
            workers = len(runners)
            self._runs = [lambda items, r=r: run_on(r, items) for r in runners]
        else:
            self._runs = [run_batch] * workers
        self._lone = (lambda items: run_on(lone, items)) if lone is not None else None
        self._busy, self._busy_lock = 0, threading.Lock()
        self._queue: queue.Queue[_Job[T] | None] = queue.Queue(maxsize=queue_size)
        self._observer = observer or BatchObserver()
        self._threads = [threading.Thread(target=self._work, args=(self._runs[i],), name=f"batch-{name}-{i}",
                                          daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def submit(self, item: T, timeout_s: float) -> Future:
        job = _Job(item, time.monotonic() + timeout_s)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self._observer.rejected(self.label)
            raise Overloaded(f"{self.name}: queue full ({self._queue.maxsize} waiting); retry later") from None
        return job.future

    def __call__(self, item: T, timeout_s: float) -> R:
        """Submit and wait; TimedOut when the result is not there within `timeout_s`."""
        future = self.submit(item, timeout_s)
        try:
            return future.result(timeout=timeout_s)
        except FutureTimeout:
            future.cancel()
            raise TimedOut(f"{self.name}: no result within {timeout_s:g} s") from None

    def close(self, timeout_s: float = 10.0) -> None:
        """Finish the queued jobs, then stop the workers."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout_s)

    def _work(self, run_batch: Callable[[Sequence[T]], Sequence[R]]) -> None:
        while True:
            jobs = self._take()
            if jobs is None:
                return
            if jobs:
                with self._busy_lock:
                    self._busy += 1
                    alone = self._lone is not None and self._busy == 1 and self._queue.empty()
                try:
                    self._run(jobs, self._lone if alone else run_batch)
                finally:
                    with self._busy_lock:
                        self._busy -= 1

    def _take(self) -> list[_Job[T]] | None:
        first = self._queue.get()
        if first is None:
            return None
        jobs = [first]
        while len(jobs) < self.max_batch:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:  # a stop request: put it back for this loop's next turn
                self._queue.put(None)
                break
            jobs.append(job)
        now = time.monotonic()
        live = []
        for job in jobs:
            if job.future.cancelled():  # the caller gave up already
                continue
            if now > job.deadline:
                job.future.set_exception(TimedOut(f"{self.name}: waited past the request timeout"))
            elif job.future.set_running_or_notify_cancel():
                live.append(job)
        return live

    def _run(self, jobs: list[_Job[T]], run_batch: Callable[[Sequence[T]], Sequence[R]]) -> None:
        started = time.perf_counter()
        results = isolate(run_batch, [job.item for job in jobs])
        if not any(isinstance(r, Failed) for r in results):
            self._observer.batch(self.label, len(jobs), time.perf_counter() - started)
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, Failed):
                job.future.set_exception(result.error)
            else:
                job.future.set_result(result)


class Failed:
    """An item's exception in place of its result (see `isolate`)."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def isolate(run_batch: Callable[[Sequence[T]], Sequence[R]], items: Sequence[T]) -> list[R | Failed]:
    """`run_batch(items)`; when it raises on several items, each is run alone, so the one that fails does not fail
    its neighbours (its result is Failed(its exception))."""
    try:
        return list(run_batch(items))
    except Exception as exc:
        if len(items) == 1:
            return [Failed(exc)]
    return [_alone(run_batch, item) for item in items]


def _alone(run_batch: Callable[[Sequence[T]], Sequence[R]], item: T) -> R | Failed:
    try:
        return run_batch([item])[0]
    except Exception as exc:
        return Failed(exc)


def call_each(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """run_batch for models that gain nothing from batching: the queue still bounds and orders the work."""
    return [call() for call in calls]
