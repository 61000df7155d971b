from __future__ import annotations

import pytest

from tests.events.broker import Broker, Subscriber


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    running = Broker(tmp_path_factory.mktemp("mosquitto")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def subscriber(broker):
    client = Subscriber(broker.port).start()
    yield client
    client.stop()


@pytest.fixture(scope="session")
def face_models(store):
    from vigil.config.settings import VigilConfig

    faces = VigilConfig().faces
    for name in (faces.detector, faces.embedder):
        store.pull(name)
