"""Training (extra "train": torch). Nothing on the serving path imports this package."""
