from __future__ import annotations

import pytest

from tests.serve import server as harness


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One real `vigil serve` (HTTP with keys, zerorpc on tcp and ipc) for a test module."""
    running = harness.start(tmp_path_factory.mktemp("serve"))
    yield running
    rc = running.stop()
    assert rc == 0, f"vigil serve exited {rc} on SIGTERM:\n{running.log_tail()}"
