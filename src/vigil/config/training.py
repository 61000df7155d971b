"""Defaults of `vigil train` that the command line shows without importing training (torch)."""

DEFAULT_SEED = 42  # without --seed a run is reproducible too
SPLIT_SEED = 42  # the split every seed is scored on (train/data.py: split)
