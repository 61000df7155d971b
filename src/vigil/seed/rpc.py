"""The seed's zerorpc servers: `detect_objects(paths)` and `detect_faces(objects)`, each returning a JSON string.

zerorpc runs on gevent; the HTTP server runs on asyncio. Both live in one process: the zerorpc servers get their own
thread with its own gevent hub (no monkey-patching, so nothing else in the process changes behaviour), and every call
hands its blocking work to the hub's thread pool, so heartbeats keep flowing while a model runs. The work itself goes
through the same Executor (bounded queues, batcher, models) as HTTP requests.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from vigil.config.serving import RpcConfig
from vigil.errors import BadInput, ConfigError, VigilError
from vigil.execute.executor import DETECT, Executor
from vigil.formats.seed import entries_from_seed, to_seed
from vigil.seed.paths import SeedCalls
from vigil.tasks.detect import DetectParams

log = logging.getLogger(__name__)
POOL_THREADS = 32  # calls waiting at once on the executor (each blocks one pool thread while its images run)
# Past ZMQ_MAXMSGSIZE libzmq drops the peer without a reply (the caller waits out its timeout), so it sits far above
# what the [limits] counts allow; calls within it but over a count get an immediate BadInput reply instead.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def check_endpoint(endpoint: str, allow_remote: bool) -> None:
    """zerorpc has no keys: a tcp endpoint off loopback needs `[rpc] allow_remote = true` (as HTTP needs a key)."""
    if not endpoint.startswith("tcp://") or allow_remote:
        return
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0]
    if host not in _LOOPBACK:
        raise ConfigError(f"zerorpc endpoint {endpoint} is not loopback and zerorpc has no keys; "
                          "set [rpc] allow_remote = true to serve a trusted network")


class _Service:
    def __init__(self, seed: SeedCalls, hub: Any) -> None:
        self._seed, self._executor, self._hub = seed, seed.executor, hub

    def _call(self, method: str, fn: Any, *args: Any) -> str:
        started = time.perf_counter()
        status = "ok"
        try:
            # the error comes back as a value: raised in gevent's pool, it would also print a traceback on stderr
            ok, value = self._hub.threadpool.apply(_outcome, (fn, args))
            if not ok:
                raise value
            return json.dumps(value)
        except Exception as exc:
            status = type(exc).__name__
            raise rpc_error(exc) from None
        finally:
            seconds = time.perf_counter() - started
            self._executor.metrics.request("rpc", method, status, seconds)
            log.info("rpc call", extra={"method": method, "status": status, "ms": round(seconds * 1000, 1)})


def _outcome(fn: Any, args: tuple) -> tuple[bool, Any]:
    try:
        return True, fn(*args)
    except Exception as exc:
        return False, exc


class ObjectsService(_Service):
    def detect_objects(self, paths: Any) -> str:
        """One entry per path, in input order: {"image", "labels": [{"id","name","score","box"}]}, a JSON string."""
        return self._call("detect_objects", self._detect, paths)

    def _detect(self, paths: Any) -> list[dict]:
        if not isinstance(paths, list | tuple):
            raise BadInput("detect_objects takes a list of image paths")
        executor = self._executor
        return [to_seed(r) for r in self._seed.detect_paths(list(paths), DetectParams(), executor.deadline())]


class FacesService(_Service):
    def detect_faces(self, objects: Any) -> str:
        """Every entry echoed; person labels gain `face` and `faceProba` (as `[recognize] by` says)."""
        return self._call("detect_faces", self._label, objects)

    def _label(self, objects: Any) -> list[dict]:
        if isinstance(objects, str | bytes):  # tolerate the JSON string detect_objects returned, unparsed
            try:
                objects = json.loads(objects)
            except ValueError:
                raise BadInput("detect_faces takes the list detect_objects returned") from None
        limits = self._executor.config.limits
        entries = entries_from_seed(objects, limits.max_entries, limits.max_labels)
        return [to_seed(r) for r in self._seed.label_entries(entries, self._executor.deadline())]


def rpc_error(exc: Exception) -> Exception:
    """What a zerorpc call raises: zerorpc sends the exception's type name and message to the client."""
    if isinstance(exc, VigilError):
        return exc
    log.exception("unexpected error in a zerorpc call")
    return RuntimeError("internal error")


def _server_class() -> type:
    import zerorpc

    class Server(zerorpc.Server):
        """zerorpc's server, minus the server-side traceback it sends to clients and logs for every error:
        the client gets the error's type and message; `_call` logs each call once."""

        def _print_traceback(self, protocol_v1: bool, exc_infos: list) -> tuple:
            exc_type, exc_value, _ = exc_infos
            return (repr(exc_value),) if protocol_v1 else (exc_type.__name__, str(exc_value), "")

    return Server


class RpcServers:
    """Both zerorpc servers in one thread with its own gevent hub; `stop` lets calls in flight finish."""

    def __init__(self, executor: Executor, config: RpcConfig, grace_s: float = 10.0, seed: SeedCalls | None = None
                 ) -> None:
        self.executor, self.config, self.grace_s = executor, config, grace_s
        self.seed = seed or SeedCalls(executor)  # the frame-skip memory the server's /v2/detect/paths shares
        executor.metrics.route_tasks.update({"detect_objects": DETECT, "detect_faces": executor.labelling_task})
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._main, name="zerorpc", daemon=True)

    def start(self, timeout_s: float = 30.0) -> RpcServers:
        for endpoint in (self.config.objects, self.config.faces):
            check_endpoint(endpoint, self.config.allow_remote)
        self._thread.start()
        if not self._bound.wait(timeout_s):
            raise ConfigError("zerorpc servers did not start")
        if self._error is not None:
            raise self._error
        log.info("zerorpc serving", extra={"objects": self.config.objects, "faces": self.config.faces})
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.grace_s + 5)

    def request_stop(self) -> None:
        """Safe from a signal handler: the serving thread notices within 0.1 s."""
        self._stop.set()

    def _main(self) -> None:
        import gevent
        import zmq

        hub = gevent.get_hub()
        hub.threadpool.maxsize = POOL_THREADS
        servers = []
        try:
            for service, endpoint in ((ObjectsService, self.config.objects), (FacesService, self.config.faces)):
                server = _server_class()(service(self.seed, hub), heartbeat=self.config.heartbeat_s)
                servers.append(server)
                server._events.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
                server.bind(endpoint)
        except Exception as exc:  # a bad or busy endpoint: report it to start() instead of dying silently
            self._error = ConfigError(f"zerorpc cannot bind: {exc}")
            self._bound.set()
            for server in servers:
                server.close()
            return
        runners = [gevent.spawn(s.run) for s in servers]
        self._bound.set()
        while not self._stop.is_set():
            gevent.sleep(0.1)
        for server in servers:
            server.stop()  # no new calls; run() returns once the calls in flight have answered
        gevent.joinall(runners, timeout=self.grace_s)
        for server in servers:
            server.close()
        log.info("zerorpc stopped")
