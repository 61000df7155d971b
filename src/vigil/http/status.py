"""What an operator needs on one page: `GET /v2/status` (the watcher's cameras with their last frame and its time,
MQTT connected or not, the models in use with their speed, queue depths, error counts) and each camera's last frame
as a small JPEG. Read from the executor's metrics and the event service running in this process; the admin key when
keys are set (it names cameras and files)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from vigil import __version__
from vigil.errors import NotFound
from vigil.execute.executor import Executor
from vigil.formats import status as body
from vigil.http import auth
from vigil.http.events import Logs
from vigil.http.openapi import JPEG_ANSWER

CameraName = Path(min_length=1, max_length=200, description="a camera's name")


def status_router(executor: Executor) -> APIRouter:
    router = APIRouter(prefix="/v2/status", tags=["operations"])
    _, admin = auth.key_checks(executor.config.server)
    logs = Logs(executor)

    @router.get("", dependencies=[admin], summary="Cameras and their last frames, MQTT, models in use with their "
                "speed, queue depths and errors (the admin key when keys are set)")
    def status(request: Request) -> dict[str, Any]:
        service = getattr(request.app.state, "events", None)
        log = logs.get(request)  # the service's, or one `vigil watch` writes: camera names, no frames
        cameras = set(log.cameras()) if log is not None else set()
        frames = dict(service.last_frames) if service is not None else {}
        return body.status(__version__, executor.ready, executor.accepting, _samples(executor),
                           [body.camera(name, frames.get(name)) for name in sorted(cameras | set(frames))],
                           _mqtt(executor, service))

    @router.get("/cameras/{camera}/frame.jpg", dependencies=[admin], response_class=Response,
                responses=JPEG_ANSWER, summary="A watched camera's last frame, small")
    def frame(request: Request, camera: str = CameraName) -> Response:
        service = getattr(request.app.state, "events", None)
        last = service.last_frames.get(camera) if service is not None else None
        if last is None or last.thumbnail is None:
            raise NotFound(f"no frame of camera {camera!r} seen by this server")
        return Response(last.thumbnail, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    return router


def _samples(executor: Executor) -> dict[str, dict[tuple[str, ...], float]]:
    """Every metric sample by name, then by its label values; the event service's share the registry."""
    found: dict[str, dict[tuple[str, ...], float]] = {}
    for metric in executor.metrics.registry.collect():
        for sample in metric.samples:
            found.setdefault(sample.name, {})[tuple(sample.labels.values())] = sample.value
    return found


def _mqtt(executor: Executor, service: Any) -> dict[str, Any]:
    config = executor.config.mqtt
    publisher = getattr(service, "publisher", None)
    return body.mqtt(config.host, config.port, service is not None and publisher is not None,
                     publisher is not None and publisher.connected.is_set())
