"""The zerorpc servers' start-up: a busy or malformed endpoint is a clear ConfigError, not a silent dead thread."""

from __future__ import annotations

import socket

import pytest

from tests.serve.server import free_port
from vigil.config.serving import RpcConfig
from vigil.config.settings import VigilConfig
from vigil.errors import ConfigError
from vigil.execute.local import Engine
from vigil.seed.rpc import RpcServers


@pytest.mark.parametrize("endpoint", ["busy", "tcp://not-an-address", "carrier-pigeon://x"])
def test_unusable_endpoint_is_a_config_error(endpoint):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        if endpoint == "busy":
            endpoint = f"tcp://127.0.0.1:{taken.getsockname()[1]}"
        config = RpcConfig(objects=endpoint, faces=f"tcp://127.0.0.1:{free_port()}")
        with pytest.raises(ConfigError, match="zerorpc cannot bind|is not loopback"):
            RpcServers(Engine(VigilConfig()), config).start(timeout_s=10)
