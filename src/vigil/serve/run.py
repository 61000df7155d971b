"""`vigil serve`: load the models once, start the zerorpc servers and the HTTP server in one process.

SIGTERM or SIGINT: both servers stop accepting, calls and requests in flight finish (up to
`[server] graceful_shutdown_s`), queued model work drains, and the process exits 0.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import uvicorn

from vigil.config.settings import VigilConfig
from vigil.errors import ConfigError
from vigil.execute.executor import Executor
from vigil.execute.local import Engine
from vigil.seed.paths import SeedCalls
from vigil.seed.rpc import RpcServers
from vigil.serve import logs
from vigil.serve.app import create_app

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(config: VigilConfig) -> None:
    server = config.server
    if not server.api_key and not is_loopback(server.host) and not server.allow_remote_without_key:
        raise ConfigError(f"refusing to bind {server.host} without an api_key; set [server] api_key, or "
                          "allow_remote_without_key = true if the network is trusted")
    if config.rpc.enabled and not server.allow_remote_without_key:
        for endpoint in (config.rpc.objects, config.rpc.faces):
            host = endpoint.removeprefix("tcp://").rsplit(":", 1)[0] if endpoint.startswith("tcp://") else "127.0.0.1"
            if not is_loopback(host):  # zerorpc has no keys: only the media roots limit what it reads
                log.warning("zerorpc endpoint is reachable from the network", extra={"endpoint": endpoint})


def start_events(config: VigilConfig, executor: Executor, feeds: Any = None) -> Any:
    """The folder watcher, the camera feeds ([cameras.<name>] source) and event publishing ([watch] dirs, [mqtt]
    host) on the server's executor (the same models and queues as HTTP and RPC requests), or None. `feeds`: where
    the cameras run (events/camera_feed.py: FeedRunner; threads of this process unless given)."""
    if not config.watch.dirs and not any(camera.source for camera in config.cameras.values()):
        if config.mqtt.host:
            log.warning("[mqtt] is set but [watch] dirs is empty: no events to publish")
        return None
    from vigil.events.service import EventService

    return EventService(config, executor, executor.metrics.registry, feeds).start()


class _Server(uvicorn.Server):
    """uvicorn's server, telling the zerorpc servers to stop at the same signal."""

    def __init__(self, config: uvicorn.Config, rpc: RpcServers | None) -> None:
        super().__init__(config)
        self.rpc = rpc

    def handle_exit(self, sig: int, frame: object) -> None:
        log.info("shutting down", extra={"signal": sig})
        if self.rpc is not None:
            self.rpc.request_stop()
        super().handle_exit(sig, frame)
        # uvicorn re-raises the signal after its own shutdown, which would kill the process before the zerorpc
        # servers and the batchers are drained below; the shutdown is complete here, so exit 0 instead.
        self._captured_signals.clear()


def _http_protocol(server: Any) -> type:
    """uvicorn's own choice (httptools when installed, else h11), with the header timeout (serve/headers.py)."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    from vigil.serve.headers import with_header_timeout

    return with_header_timeout(AutoHTTPProtocol, server.header_timeout_s)


def run_server(config: VigilConfig) -> None:
    logs.setup(config.server.log_format)
    check_bind(config)
    config.store.data_dir.mkdir(parents=True, exist_ok=True)
    executor = Engine(config).setup(preload=True)
    seed = SeedCalls(executor)
    rpc = RpcServers(executor, config.rpc, config.server.graceful_shutdown_s, seed).start() \
        if config.rpc.enabled else None
    server = config.server
    log.info("models loaded; serving HTTP", extra={"url": f"http://{server.host}:{server.port}",
                                                   "model": config.detect.model})
    app = create_app(executor, seed)
    app.state.events = start_events(config, executor)
    uv_config = uvicorn.Config(app, host=server.host, port=server.port, log_config=None, http=_http_protocol(server),
                               access_log=False, timeout_graceful_shutdown=int(server.graceful_shutdown_s))
    try:
        _Server(uv_config, rpc).run()
    finally:
        if rpc is not None:
            rpc.stop()
        if app.state.events is not None:
            app.state.events.stop()
        executor.close()
        log.info("stopped")
