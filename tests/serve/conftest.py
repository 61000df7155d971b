from __future__ import annotations

from pathlib import Path

import pytest

from tests.serve import server as harness


@pytest.fixture(scope="session")
def face_models(store):
    """The configured face detector and embedder, pulled (a no-op after `make models`)."""
    from vigil.config.settings import VigilConfig

    faces = VigilConfig().faces
    for name in (faces.detector, faces.embedder):
        store.pull(name)


@pytest.fixture(scope="module")
def server(tmp_path_factory, store, face_models):
    """One real `vigil serve` (HTTP with keys, zerorpc on tcp and ipc) for a test module."""
    running = harness.start(tmp_path_factory.mktemp("serve"))
    yield running
    rc = running.stop()
    assert rc == 0, f"vigil serve exited {rc} on SIGTERM:\n{running.log_tail()}"


@pytest.fixture(scope="module")
def watched(tmp_path_factory) -> Path:
    """A watched NVR folder with one camera folder, for servers that run the watcher."""
    folder = tmp_path_factory.mktemp("nvr")
    (folder / "cam").mkdir()
    return folder
