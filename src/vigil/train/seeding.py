"""Seeded, deterministic training: the same command with the same seed gives bitwise the same weights.

One call seeds every generator a run draws from (Python's `random`, numpy's global one, torch's) and fixes torch's
thread count and its deterministic kernels; what a run draws per epoch (data order, augmentation) comes from numpy
generators built from the seed and the epoch, so a resumed run draws the same as an uninterrupted one. The thread
count is part of the recipe: a float sum split over another number of threads rounds differently, so a run folder
records the count it ran with. The training seed is not the split seed (`TrainConfig.split_seed`): seeds compared on
one dataset should be scored on the same test images."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


@contextmanager
def seeded(seed: int, threads: int) -> Iterator[None]:
    """Seed every generator, fix the threads and require deterministic kernels for the block; the process's
    previous thread count and determinism setting come back after it (tests and benchmarks train many runs in one
    process, and serving code that runs after them should not inherit the training settings)."""
    import torch

    before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    seed_all(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1])


def seed_all(seed: int) -> None:
    import torch  # here, not at the top: the CLI reads the defaults above without loading torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
