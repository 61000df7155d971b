"""The one thread policy: how many runs of a task go at once, and how many threads each run's sessions get.

On a small busy CPU one single-threaded run per core beats one run spread over every core (no thread hand-offs or
spinning inside a run, and decode overlaps inference: benchmarks/bench_serve.py), but a lone request then uses one
core of several. So a re-entrant task also gets a `lone` runner whose sessions use every core; the micro-batcher
hands it the work when nothing else is queued or running (execute/batching.py). A task's own `threads` setting
(`[detect] threads` …) wins over the plan; `[server] workers` sets how many runs go at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vigil.config.settings import VigilConfig


def cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    return max(1, len(os.sched_getaffinity(0)))


@dataclass(frozen=True)
class ThreadPlan:
    workers: int  # runs of one task at once
    per_run: int  # threads a worker's sessions get when the workers share the cores
    cores: int

    @property
    def lone(self) -> bool:
        """Whether a lone run should get a runner of its own with every core (only when workers share cores)."""
        return self.workers > 1 and self.per_run < self.cores

    def threads(self, config: VigilConfig, section: str) -> int:
        """Threads for a worker's sessions of a task whose settings live in `section` (its own `threads` wins)."""
        own = getattr(getattr(config, section, None), "threads", 0) if section else 0
        return own or self.per_run


def plan(config: VigilConfig, workers: int | None = None, share: int | None = None) -> ThreadPlan:
    """Workers from `[server] workers` (0: one per core) unless the caller fixes them (inline: 1); the cores are
    shared among them, or among `share` such processes side by side (a batch pool, Ray actors: one core each)."""
    available = cores()
    count = workers or config.server.workers or available
    return ThreadPlan(count, max(1, available // (share or count)), available)
