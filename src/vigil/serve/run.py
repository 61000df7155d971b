"""`vigil serve`: load the models once, start the zerorpc servers and the HTTP server in one process.

SIGTERM or SIGINT: both servers stop accepting, calls and requests in flight finish (up to
`[server] graceful_shutdown_s`), queued model work drains, and the process exits 0.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import uvicorn

from vigil.config import VigilConfig
from vigil.errors import ConfigError
from vigil.images import DecodedImage
from vigil.pipeline import DetectRequest
from vigil.results import Detections
from vigil.serve import logs
from vigil.serve.engine import FACES, Engine
from vigil.serve.http import create_app
from vigil.serve.rpc import RpcServers

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


def start_events(config: VigilConfig, engine: Engine) -> Any:
    """The folder watcher and event publishing ([watch] dirs, [mqtt] host) on the engine's pipeline, or None."""
    if not config.watch.dirs:
        if config.mqtt.host:
            log.warning("[mqtt] is set but [watch] dirs is empty: no events to publish")
        return None
    from vigil.events.service import EventService

    return EventService(config, engine.pipeline, engine.metrics.registry, _EngineAnalyser(engine)).start()


class _EngineAnalyser:
    """Watched frames through the served task workers: the same models and queues as the HTTP and RPC requests."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def detect(self, frame: DecodedImage) -> Detections:
        return self.engine.detect_frame(frame, DetectRequest(), self.engine.deadline())

    def recognize(self, frame: DecodedImage, source: str) -> Detections:
        from vigil.events.service import CLUSTER_WAIT_S

        def recognize(runner: Any) -> Detections:
            return runner.recognizer.recognize(frame, source, cluster_wait_s=CLUSTER_WAIT_S)

        return self.engine.on_runner(FACES, recognize, self.engine.deadline())


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


def run_server(config: VigilConfig) -> None:
    logs.setup(config.server.log_format)
    check_bind(config)
    config.store.data_dir.mkdir(parents=True, exist_ok=True)
    engine = Engine(config).setup(preload=True)
    rpc = RpcServers(engine, config.rpc, config.server.graceful_shutdown_s).start() if config.rpc.enabled else None
    server = config.server
    log.info("models loaded; serving HTTP", extra={"url": f"http://{server.host}:{server.port}",
                                                   "model": config.detect.model})
    app = create_app(engine)
    app.state.events = start_events(config, engine)
    uv_config = uvicorn.Config(app, host=server.host, port=server.port, log_config=None,
                               access_log=False, timeout_graceful_shutdown=int(server.graceful_shutdown_s))
    try:
        _Server(uv_config, rpc).run()
    finally:
        if rpc is not None:
            rpc.stop()
        if app.state.events is not None:
            app.state.events.stop()
        engine.close()
        log.info("stopped")
