"""The page's Cameras view: `GET /v2/cameras` (each live camera of `[cameras.<name>]` with a source, and each folder
camera named there once the watcher had a frame of it: its source and kind, online, the latest analysed frame's time
and size, the tracks on it, its zones, lines and masks, the counts so far), `GET /v2/cameras/{camera}/frame.jpg`
(that frame), and `POST /v2/cameras/{camera}/shapes`: zones, lines and masks drawn on the page, checked as config
loading checks them (a zone with fewer than 3 points, a shape outside the frame: 400 naming the key), answered as a
ready `[cameras.<name>]` TOML snippet and taken by the running feed from its next analysed frame on. The admin key
when keys are set (camera names, sources, frames)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response

from vigil.config.cameras import camera_config
from vigil.errors import BadInput, ConfigError, NotFound
from vigil.execute.executor import Executor
from vigil.formats import cameras as body
from vigil.http import auth
from vigil.http.openapi import JPEG_ANSWER

CameraName = Path(min_length=1, max_length=200, description="a camera's name ([cameras.<name>])")
Shapes = Body(examples=[{"zones": {"door": {"points": [[10, 10], [200, 10], [200, 150]], "loiter_s": 30}},
                         "lines": {"gate": {"points": [[0, 300], [640, 300]]}},
                         "masks": {"street": [[0, 0], [640, 0], [640, 60], [0, 60]]}}])


def cameras_router(executor: Executor) -> APIRouter:
    router = APIRouter(prefix="/v2/cameras", tags=["cameras"])
    _, admin = auth.key_checks(executor.config.server)

    @router.get("", dependencies=[admin], summary="Live cameras: latest frame, tracks now, zones, lines, masks and "
                "counts (the admin key when keys are set)")
    def cameras(request: Request) -> dict[str, Any]:
        return {"cameras": [body.camera_json(feed.name, feed.state()) for feed in _feeds(request).values()]}

    @router.get("/{camera}/frame.jpg", dependencies=[admin], response_class=Response, responses=JPEG_ANSWER,
                summary="A live camera's latest analysed frame")
    def frame(request: Request, camera: str = CameraName) -> Response:
        jpeg = _feed(request, camera).live.jpeg()
        if jpeg is None:
            raise NotFound(f"camera {camera!r} has no frame yet")
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @router.post("/{camera}/shapes", dependencies=[admin], summary="Check zones, lines and masks drawn on the page: "
                 "a [cameras.<name>] TOML snippet, and the running feed takes them")
    def shapes(request: Request, camera: str = CameraName, drawn: dict[str, Any] = Shapes) -> dict[str, Any]:
        feed = _feed(request, camera)
        checked = _checked(camera, feed, drawn)
        applied = feed.reshape(checked)
        return {"camera": camera, "toml": body.toml_snippet(camera, checked), "applied": applied,
                **body.shapes(checked)}

    return router


def live_feeds(state: Any) -> Iterable[Any]:
    """The live cameras this app shows: its event service's feeds, or those it was given as `app.state.feeds`
    (the ingress of `vigil serve --ray`: the camera actors, events/camera_actors.py)."""
    given = getattr(state, "feeds", None)
    return given if given is not None else getattr(getattr(state, "events", None), "feeds", [])


def _feeds(request: Request) -> dict[str, Any]:
    """The live cameras (the camera actors under `--ray`), then the watcher's folder cameras named in
    [cameras.<name>] (events/watch_scenes.py)."""
    service = getattr(request.app.state, "events", None)
    scenes = getattr(getattr(service, "scenes", None), "watched", {})
    return {feed.name: feed for feed in [*live_feeds(request.app.state), *list(scenes.values())]}


def _feed(request: Request, camera: str) -> Any:
    feed = _feeds(request).get(camera)
    if feed is None:
        raise NotFound(f"no live camera {camera!r} here ([cameras.<name>] with a source)")
    return feed


def _checked(camera: str, feed: Any, drawn: dict[str, Any]) -> Any:
    """The feed's camera with the drawn shapes, through config/cameras.py's checks against the frame size."""
    unknown = set(drawn) - {"zones", "lines", "masks"}
    if unknown:
        raise BadInput(f"cameras.{camera}.{sorted(unknown)[0]}: not a shape (zones, lines, masks)")
    width, height = feed.live.size or (feed.camera.width, feed.camera.height)
    values = feed.camera.model_dump() | {"zones": drawn.get("zones", {}), "lines": drawn.get("lines", {}),
                                         "masks": drawn.get("masks", {}), "width": width, "height": height}
    where = f"cameras.{camera}."
    try:
        return camera_config(where, **values)
    except ConfigError as exc:  # a field's message names its key; the frame check's names the shape's (lines.x)
        message = str(exc)
        raise BadInput(message if message.startswith(where) else where + message) from None
