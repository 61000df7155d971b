"""`vigil serve --ray [--ray-address ADDRESS]`: the same FastAPI app on Ray Serve (the `scale` extra).

Three deployments: `ingress` runs create_app (the very routes, keys, limits and error mapping of `vigil serve`)
over a RayEngine; `detect` holds the detector, batching with Serve's @serve.batch where the in-process engine has
its micro-batcher; `faces` holds the face models, one call at a time per replica (the face detector is not
re-entrant). Each is autoscaled between `[ray] min_replicas` and `max_replicas` at `target_ongoing_requests`.
Decoding happens in the ingress, as it happens in the request's thread in-process; replicas get decoded frames.
An error raised in a replica reaches the app as its own type (not Ray's wrapper), so answers and errors match.
The gallery is shared through its database: SQLite on one machine, PostgreSQL across nodes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from typing import Any

import ray
from ray import serve
from ray.exceptions import RayTaskError

from vigil.config import VigilConfig
from vigil.errors import NotActivated, TimedOut, VigilError
from vigil.images import DecodedImage
from vigil.pipeline import DetectRequest, Pipeline
from vigil.ray_cluster import connect, portable
from vigil.results import Detections
from vigil.serve.engine import Engine
from vigil.serve.http import create_app
from vigil.serve.run import check_bind

log = logging.getLogger(__name__)
APP = "vigil"


def _result(response: Any, deadline: float) -> Any:
    """A replica's answer within the request's deadline; its own exception when it raised one."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimedOut("the request timeout passed before the model could run")
    try:
        return response.result(timeout_s=left)
    except TimeoutError:
        raise TimedOut(f"no answer from the model replicas within {left:.1f} s") from None
    except RayTaskError as exc:
        if isinstance(exc.cause, Exception):
            raise exc.cause from None
        raise


@serve.deployment(name="detect")
class DetectReplica:
    def __init__(self, settings: dict[str, Any]) -> None:
        config = VigilConfig.model_validate(settings)
        self.pipeline = Pipeline(config).setup()
        self.detect.set_max_batch_size(config.ray.max_batch_size)
        self.detect.set_batch_wait_timeout_s(config.ray.batch_wait_s)

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.005)
    async def detect(self, jobs: list[tuple[DecodedImage, DetectRequest]]) -> list[Detections]:
        prepared = [self.pipeline.prepare(frame, request) for frame, request in jobs]
        return await asyncio.to_thread(self.pipeline.detect_prepared, prepared)


@serve.deployment(name="faces")
class FacesReplica:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.recognizer, self.reason = None, ""
        try:
            self.recognizer = Pipeline(VigilConfig.model_validate(settings)).faces
        except (VigilError, ImportError) as exc:  # the routes answer 403 with the reason, as in-process
            self.reason = str(exc)
        self.lock = threading.Lock()

    def call(self, method: str, *args: Any) -> Any:
        if self.recognizer is None:
            raise NotActivated(f"face recognition is not available: {self.reason}")
        with self.lock:
            return getattr(self.recognizer, method)(*args)


class RemoteRecognizer:
    """The FaceRecognizer calls serve/faces.py makes, run in a `faces` replica; the gallery is read here."""

    def __init__(self, handle: Any, config: VigilConfig) -> None:
        self._handle, self._config, self._gallery = handle, config, None

    @property
    def gallery(self) -> Any:
        if self._gallery is None:
            from vigil.faces.gallery.location import open_gallery

            self._gallery = open_gallery(self._config.gallery_path())
        return self._gallery

    def __getattr__(self, method: str) -> Any:
        timeout = self._config.server.request_timeout_s
        return lambda *args: _result(self._handle.call.remote(method, *args), time.monotonic() + timeout)


class RayEngine(Engine):
    """The Engine the app expects, with its model runs sent to the task deployments."""

    def __init__(self, config: VigilConfig, detector: Any, faces: Any) -> None:
        super().__init__(config)
        self._detector = detector
        self._recognizer = RemoteRecognizer(faces, config)

    def setup(self, preload: bool = False) -> RayEngine:
        self.ready = True
        return self

    def close(self) -> None:
        self.ready = False

    @property
    def accepting(self) -> bool:
        return self.ready

    def detect_frame(self, frame: DecodedImage, request: DetectRequest, deadline: float) -> Detections:
        return _result(self._detector.detect.remote((frame, request)), deadline)

    def run_model(self, call: Any, deadline: float) -> Any:
        if deadline <= time.monotonic():
            raise TimedOut("the request timeout passed before the model could run")
        return call()  # face calls reach their replica through RemoteRecognizer; custom models run here

    @property
    def recognizer(self) -> Any:
        return self._recognizer


@serve.deployment(name="ingress", ray_actor_options={"num_cpus": 0})
@serve.ingress()
class Ingress:
    def __init__(self, settings: dict[str, Any], detector: Any, faces: Any) -> None:
        self.engine = RayEngine(VigilConfig.model_validate(settings), detector, faces).setup()

    def __serve_build_asgi_app__(self) -> Any:
        return create_app(self.engine)


def application(config: VigilConfig) -> Any:
    """The bound Serve application: ingress → detect, faces."""
    settings = _portable(config)
    r = config.ray
    scaling = {"min_replicas": r.min_replicas, "max_replicas": r.max_replicas,
               "target_ongoing_requests": r.target_ongoing_requests}
    options = {"autoscaling_config": scaling, "ray_actor_options": {"num_cpus": r.replica_cpus}}
    detector = DetectReplica.options(**options).bind(settings)
    faces = FacesReplica.options(**options).bind(settings)
    return Ingress.options(autoscaling_config=scaling).bind(settings, detector, faces)


def _portable(config: VigilConfig) -> dict[str, Any]:
    """Settings for replicas in other processes: absolute paths, one inference thread per reserved CPU."""
    settings = portable(config.model_dump(mode="json"))
    settings["detect"]["threads"] = settings["detect"]["threads"] or max(1, int(config.ray.replica_cpus))
    return settings


def start(config: VigilConfig, address: str) -> None:
    """Deploy on the cluster at `address` and return once every deployment is up."""
    check_bind(config)
    connect(address)
    serve.start(http_options={"host": config.server.host, "port": config.server.port})
    serve.run(application(config), name=APP, route_prefix="/")
    log.info("serving on Ray", extra={"url": f"http://{config.server.host}:{config.server.port}"})


def stop() -> None:
    serve.delete(APP)


def serve_on_ray(config: VigilConfig, address: str) -> None:
    """`vigil serve --ray`: deploy, then wait for SIGTERM or SIGINT, take the application down and disconnect
    (a local cluster started here goes with it)."""
    start(config, address)  # ray.init installs a SIGTERM handler of its own: ours replace it afterwards
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        stop()
        ray.shutdown()
        log.info("stopped")
