"""Joining a Ray cluster, for `vigil batch --ray` and `vigil serve --ray` (the `scale` extra)."""

from __future__ import annotations

import ray


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
