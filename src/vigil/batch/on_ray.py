"""`vigil batch --ray`: the same BatchWorker on Ray Data (the `scale` extra).

`from_items` of paths (never pixels: each actor decodes with Vigil's own decoder, so results match `vigil
detect` to the pixel and frames are never padded to one shape) → `map_batches` over an actor pool, one
Vigil pipeline per CPU with its models loaded once per actor. `--ray auto` joins a running cluster and
otherwise starts a local one; an address joins that cluster (vigil.execute.ray_cluster).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import ray

from vigil.batch.runner import Runner
from vigil.batch.sources import Item
from vigil.batch.worker import BatchWorker
from vigil.execute.ray_cluster import connect, portable

# Images per Ray batch: a Ray task costs tens of ms to schedule and move, several images' work at ~15 ms each, so
# batches are larger than the in-process pool's (the journal still moves every batch)
RAY_CHUNK = 16


class RayBatchWorker:
    """A Ray Data actor: one BatchWorker, fed batches of {path, frame, time} columns."""

    def __init__(self, settings: dict[str, Any], tasks: Sequence[str]) -> None:
        actor = ray.get_runtime_context().get_actor_id() or ""
        self.worker = BatchWorker(settings, tasks, actor, share=os.cpu_count() or 1)  # num_cpus=1: one core each

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        items = [Item(str(p), int(f), float(t), str(c)) for p, f, t, c in zip(
            batch["path"], batch["frame"], batch["time"], batch["camera"], strict=True)]
        return {"entry": [json.dumps(e) for e in self.worker.run(items)]}


def ray_runner(address: str) -> tuple[str, Runner]:
    """For run_batch(remote=...): the cluster at `address`."""
    return "ray", lambda items, settings, tasks: run_on_ray(items, settings, tasks, address)


def run_on_ray(items: Sequence[Item], settings: dict[str, Any], tasks: Sequence[str],
               address: str) -> Iterator[list[dict[str, Any]]]:
    cpus = connect(address)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours is on stderr already
    context.execution_options.preserve_order = False
    rows = [{"path": i.path, "frame": i.frame, "time": i.time, "camera": i.camera} for i in items]
    actors = max(1, min(cpus, -(-len(rows) // RAY_CHUNK)))
    dataset = ray.data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // RAY_CHUNK))).map_batches(
        RayBatchWorker, fn_constructor_kwargs={"settings": portable(settings), "tasks": list(tasks)},
        batch_size=RAY_CHUNK, compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1, batch_format="numpy")
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        yield [json.loads(e) for e in batch["entry"]]
