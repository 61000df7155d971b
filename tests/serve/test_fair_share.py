"""The labelling budget (execute/fair.py) on its own: never more than its slots at once, callers with work waiting
take turns, and a caller whose deadline passes leaves the line without blocking the next one."""

from __future__ import annotations

import threading
import time

import pytest

from vigil.errors import TimedOut
from vigil.execute.fair import FairShare


def _caller(share: FairShare, name: str, turns: int, log: list, busy: list) -> threading.Thread:
    def work() -> None:
        for _ in range(turns):
            with share.turn(time.monotonic() + 10):
                busy.append(share.busy)
                log.append(name)
                time.sleep(0.01)

    return threading.Thread(target=work)


@pytest.mark.parametrize("slots", [1, 2])
def test_never_more_than_its_slots(slots):
    share, log, busy = FairShare(slots, "test"), [], []
    callers = [_caller(share, str(i), 5, log, busy) for i in range(6)]
    for c in callers:
        c.start()
    for c in callers:
        c.join(30)
    assert len(log) == 30 and max(busy) <= slots and share.busy == 0 and share.waiting == 0


def test_callers_with_work_waiting_take_turns():
    share, log, busy = FairShare(1, "test"), [], []
    with share.turn(time.monotonic() + 10):  # hold the only slot while both callers line up
        first, second = _caller(share, "a", 3, log, busy), _caller(share, "b", 3, log, busy)
        first.start()
        while share.waiting < 1:
            time.sleep(0.001)
        second.start()
        while share.waiting < 2:
            time.sleep(0.001)
    first.join(10)
    second.join(10)
    assert log == ["a", "b", "a", "b", "a", "b"]


def test_a_caller_past_its_deadline_leaves_the_line():
    share = FairShare(1, "labelling persons")
    with share.turn(time.monotonic() + 10):
        with pytest.raises(TimedOut, match="labelling persons: no turn"), share.turn(time.monotonic() + 0.05):
            pass
        assert share.waiting == 0
    with share.turn(time.monotonic() + 1):  # the slot came back, and nobody stale is ahead
        assert share.busy == 1
