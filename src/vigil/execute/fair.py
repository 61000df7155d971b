"""A total budget of bulk work on a task's workers, shared fairly between callers (issue 20).

Labelling persons (the seed's `detect_faces`, `/v2/faces/label`) can carry 256 entries × 64 labels per call; queued
as it came, a few such calls filled the face workers' queue and `/v1/vision/face` waited behind all of it. So bulk
work goes to the task's queue in small jobs, and at most `slots` of them are queued or running at once, across every
caller: a request that is not bulk work meets at most `slots` jobs ahead of it. Turns are handed out first come,
first served; a caller asks for its next turn only once its last job is done, so callers with work waiting take turns
round-robin however much each brought. A caller that gets no turn before its deadline gets TimedOut.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from vigil.errors import TimedOut


class FairShare:
    def __init__(self, slots: int, what: str) -> None:
        self.slots, self.what = max(1, slots), what
        self._busy = 0
        self._waiting: deque[object] = deque()
        self._changed = threading.Condition()
        self.turns = 0  # turns handed out (metrics, tests)

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @contextmanager
    def turn(self, deadline: float) -> Iterator[None]:
        """One job's worth of the budget, in arrival order; TimedOut when none comes before `deadline`."""
        me = object()
        with self._changed:
            self._waiting.append(me)
            try:
                while self._waiting[0] is not me or self._busy >= self.slots:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimedOut(f"{self.what}: no turn within the request timeout (other callers' work "
                                       "is ahead; it is served in turns)")
                    self._changed.wait(left)
            finally:
                self._waiting.remove(me)
                self._changed.notify_all()
            self._busy += 1
            self.turns += 1
        try:
            yield
        finally:
            with self._changed:
                self._busy -= 1
                self._changed.notify_all()
