"""The micro-batcher alone, with plain functions as models: batches form from what is queued, a full queue refuses
at once, waiting past the timeout is TimedOut, a failing job does not fail its neighbours, close drains."""

from __future__ import annotations

import threading
import time

import pytest

from vigil.errors import Overloaded, TimedOut
from vigil.execute.batching import MicroBatcher, call_each


class Gate:
    """A model that records each batch and blocks until released."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.open = threading.Event()
        self.entered = threading.Event()

    def __call__(self, items):
        self.entered.set()
        self.open.wait(10)
        if any(i < 0 for i in items):
            raise ValueError("negative input")
        self.batches.append(list(items))
        return [i * 10 for i in items]


def test_jobs_queued_during_a_run_share_the_next_run():
    gate = Gate()
    batcher = MicroBatcher("m", gate, max_batch=4, queue_size=16)
    first = batcher.submit(0, 10)
    gate.entered.wait(5)
    rest = [batcher.submit(i, 10) for i in range(1, 7)]
    gate.open.set()
    assert [f.result(10) for f in [first, *rest]] == [0, 10, 20, 30, 40, 50, 60]
    assert gate.batches == [[0], [1, 2, 3, 4], [5, 6]]
    batcher.close()


@pytest.mark.parametrize(("queue_size", "submitted", "refused"), [(1, 2, 1), (3, 3, 0), (3, 5, 2)])
def test_a_full_queue_refuses_at_once(queue_size, submitted, refused):
    gate = Gate()
    batcher = MicroBatcher("m", gate, max_batch=1, queue_size=queue_size)
    batcher.submit(0, 10)
    gate.entered.wait(5)  # the worker holds job 0; the queue is empty again
    outcomes = []
    for i in range(submitted):
        try:
            batcher.submit(i + 1, 10)
            outcomes.append("queued")
        except Overloaded as exc:
            assert "queue full" in str(exc) and exc.status == 503
            outcomes.append("refused")
    assert outcomes.count("refused") == refused
    gate.open.set()
    batcher.close()


def test_waiting_past_the_timeout_is_timed_out_and_the_job_is_dropped():
    gate = Gate()
    batcher = MicroBatcher("m", gate, max_batch=4, queue_size=4)
    batcher.submit(0, 10)
    gate.entered.wait(5)
    started = time.monotonic()
    with pytest.raises(TimedOut):
        batcher(1, 0.2)
    assert time.monotonic() - started < 5
    gate.open.set()
    assert batcher(2, 10) == 20
    assert [1] not in gate.batches and all(1 not in b for b in gate.batches)
    batcher.close()


def test_a_failing_job_fails_alone():
    gate = Gate()
    batcher = MicroBatcher("m", gate, max_batch=4, queue_size=8)
    blocker = batcher.submit(0, 10)
    gate.entered.wait(5)
    futures = [batcher.submit(i, 10) for i in (1, -1, 2)]
    gate.open.set()
    assert blocker.result(10) == 0
    assert futures[0].result(10) == 10 and futures[2].result(10) == 20
    with pytest.raises(ValueError, match="negative"):
        futures[1].result(10)
    batcher.close()


def test_close_finishes_queued_jobs():
    batcher = MicroBatcher("calls", call_each, max_batch=1, queue_size=8, workers=2)
    futures = [batcher.submit(lambda i=i: i * i, 10) for i in range(6)]
    batcher.close()
    assert [f.result(0) for f in futures] == [0, 1, 4, 9, 16, 25]
