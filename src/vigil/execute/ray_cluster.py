"""Joining a Ray cluster, for `vigil batch --ray` and `vigil serve --ray` (the `scale` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ray

from vigil.db.sql_schema import is_url


def connect(address: str) -> int:
    """Join `address` ("auto": a running cluster, else start a local one); returns the CPUs it offers.
    A Ray already initialised in this process (tests, notebooks) is used as it is."""
    if not ray.is_initialized():
        if address == "auto":
            try:
                ray.init(address="auto", log_to_driver=False)
            except ConnectionError:
                ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def portable(settings: dict[str, Any]) -> dict[str, Any]:
    """Dumped VigilConfig settings for processes with another working folder (Ray workers): absolute paths."""
    settings = {section: dict(values) if isinstance(values, dict) else values for section, values in settings.items()}
    absolute = lambda p: str(Path(p).expanduser().resolve())  # noqa: E731
    for key in ("home", "data_dir"):
        settings["store"][key] = absolute(settings["store"][key])
    gallery = settings["faces"].get("gallery")
    if gallery and not is_url(gallery):
        settings["faces"]["gallery"] = absolute(gallery)
    if settings["faces"].get("classifier"):
        settings["faces"]["classifier"] = absolute(settings["faces"]["classifier"])
    settings["media"]["roots"] = [absolute(p) for p in settings["media"]["roots"]]
    return settings
