"""Start the servers of `vigil serve` on the configured addresses."""

from __future__ import annotations

import ipaddress
import logging

import uvicorn

from vigil.config import VigilConfig
from vigil.errors import ConfigError
from vigil.pipeline import Pipeline
from vigil.serve.http import create_app

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_server(config: VigilConfig) -> None:
    server = config.server
    if not server.api_key and not is_loopback(server.host) and not server.allow_remote_without_key:
        raise ConfigError(f"refusing to bind {server.host} without an api_key; set [server] api_key, or "
                          "allow_remote_without_key = true if the network is trusted")
    config.store.data_dir.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(config).setup()
    log.info("models loaded; serving HTTP on http://%s:%d", server.host, server.port)
    uvicorn.run(create_app(pipeline), host=server.host, port=server.port, log_level="info",
                timeout_graceful_shutdown=int(config.server.request_timeout_s))
