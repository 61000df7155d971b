"""The event routes: /v2/events (filters), an event's snapshot, a stranger cluster's thumbnail, and the live stream
as Server-Sent Events.

The log is read from the data folder whether the watcher runs in this process or as `vigil watch`; the stream
takes its changes from the event service's hub when the watcher runs in this process, and otherwise (`vigil watch`
apart, `vigil serve --ray`'s ingress) from the log itself, polled while a stream is open (events/log_tail.py).
"""

from __future__ import annotations

import mimetypes
import threading
import time
from pathlib import Path as PathLib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from vigil.errors import BadInput, NotFound
from vigil.events.location import event_log_exists, open_event_log
from vigil.events.log import EventLog, EventQuery
from vigil.events.log_tail import LogTail
from vigil.execute.executor import Executor
from vigil.formats import events as wire
from vigil.http import auth, faces
from vigil.http import stream as live
from vigil.http.openapi import IMAGE_ANSWER, JPEG_ANSWER, SSE_ANSWER, TEXT_SCHEMA, TIME_SCHEMA, RowId

TextQuery = Annotated[str | None, Query(json_schema_extra=TEXT_SCHEMA)]


class Logs:
    """The running service's log, or the configured one (an SQLite file once it exists, or PostgreSQL) opened on
    first use."""

    def __init__(self, executor: Executor) -> None:
        self.config = executor.config
        self._log: EventLog | None = None
        self._lock = threading.Lock()

    def get(self, request: Request) -> EventLog | None:
        service = getattr(request.app.state, "events", None)
        if service is not None:
            return service.log
        return self.configured()

    def configured(self) -> EventLog | None:
        """The configured log, once there is one; from requests and the stream's log tail alike, so one lock."""
        with self._lock:
            location = self.config.events_location()
            if self._log is None and event_log_exists(location):
                self._log = open_event_log(location)
            return self._log


def events_router(executor: Executor) -> APIRouter:
    router = APIRouter(prefix="/v2/events", tags=["events"])
    user = Depends(_user_key(executor))
    _, admin = auth.key_checks(executor.config.server)
    logs = Logs(executor)
    config = executor.config
    base = config.events.public_url or f"http://{config.server.host}:{config.server.port}"
    slots = live.StreamSlots(config.events.stream_max, config.events.stream_per_key)
    tail = LogTail(logs.configured)  # the stream's changes when another process writes the events

    @router.get("", dependencies=[user], summary="Events, newest first (filter by camera, label, name, time)")
    async def list_events(request: Request, camera: TextQuery = None, label: TextQuery = None, name: TextQuery = None,
                          since: Annotated[str | None, Query(description="epoch s, ISO 8601 or age: 30m",
                                                             json_schema_extra=TIME_SCHEMA)] = None,
                          until: Annotated[str | None, Query(description="epoch s, ISO 8601 or age",
                                                             json_schema_extra=TIME_SCHEMA)] = None,
                          limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        query = EventQuery(camera, label, name, query_time(since), query_time(until), limit)
        log = logs.get(request)
        found = await run_in_threadpool(log.query, query) if log is not None else []
        return [wire.event_json(e, base) for e in found]

    @router.get("/stream", dependencies=[user], summary="New, updated and ended events as Server-Sent Events",
                response_class=StreamingResponse, responses=SSE_ANSWER)
    async def stream(request: Request, seconds: float = Query(
            config.events.stream_s, gt=0, le=config.events.stream_s, description="end the stream after this long "
            "(default and most: [events] stream_s); EventSource clients reconnect by themselves")) -> StreamingResponse:
        service = getattr(request.app.state, "events", None)
        who = live.holder(await auth.presented_keys(request), request)
        slots.take(who)  # its own bound, outside admission (issue 20, item 4)
        changes = service.hub if service is not None else tail
        return live.SlotResponse(live.sse(changes, base, seconds), slots, who, media_type="text/event-stream",
                                   headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    _frame_routes(router, user, logs, config, base)

    @router.get("/{event_id}/snapshot.jpg", dependencies=[user], summary="The event's annotated snapshot",
                response_class=Response, responses=JPEG_ANSWER)
    async def snapshot(request: Request, event_id: RowId) -> Response:
        log = logs.get(request)
        if log is None:
            raise NotFound(f"no event {event_id}")
        return Response(await run_in_threadpool(log.snapshot, event_id), media_type="image/jpeg")

    @router.get("/unknowns/{cluster_id}/thumbnail.jpg", dependencies=[admin], response_class=Response,
                responses=JPEG_ANSWER, summary="A face of a stranger cluster (the thumbnail in "
                "vigil/<camera>/face/unknown); faces need the admin key, as at /v2/strangers/faces/<id>/face.jpg")
    async def thumbnail(cluster_id: RowId) -> Response:
        return Response(await run_in_threadpool(_thumbnail, executor, cluster_id), media_type="image/jpeg")

    return router


def _frame_routes(router: APIRouter, user: Any, logs: Logs, config: Any, base: str) -> None:
    """An event with its frames, and each frame's file (the page opens an event to them)."""
    @router.get("/{event_id}", dependencies=[user], summary="One event with the frames it was seen in")
    async def one(request: Request, event_id: RowId) -> dict[str, Any]:
        log = logs.get(request)
        if log is None:
            raise NotFound(f"no event {event_id}")
        event, frames = await run_in_threadpool(lambda: (log.get(event_id), log.frames(event_id)))
        return wire.event_detail(event, frames, base)

    @router.get("/{event_id}/frames/{number}", dependencies=[user], response_class=Response,
                responses=IMAGE_ANSWER, summary="A frame of the event, the watched file as it was written (while "
                "it is still there, in a [watch] dirs folder)")
    async def frame(request: Request, event_id: RowId, number: Annotated[int, Path(ge=1, le=1000)]) -> Response:
        log = logs.get(request)
        if log is None:
            raise NotFound(f"no event {event_id}")
        frames = await run_in_threadpool(log.frames, event_id)
        if number > len(frames):
            raise NotFound(f"event {event_id} has {len(frames)} frames")
        data, media = await run_in_threadpool(_watched_file, config, frames[number - 1][1])
        return Response(data, media_type=media, headers={"Cache-Control": "private"})


def _user_key(executor: Executor) -> Any:
    async def check(request: Request) -> None:
        auth.check(executor.config.server, await auth.presented_keys(request), admin=False)

    return check


def query_time(text: str | None) -> float | None:
    """A `since`/`until` query value (epoch s, ISO 8601 or an age) as epoch seconds; BadInput (400) if unreadable."""
    if text is None:
        return None  # an empty one is not a time: 400, as its schema says
    try:
        return wire.parse_time(text, time.time())
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _watched_file(config: Any, path: str) -> tuple[bytes, str]:
    """A frame file, only from inside a watched folder and with a frame's extension (the log names it, but the
    server checks)."""
    file = PathLib(path).resolve()
    inside = any(file.is_relative_to(PathLib(d).expanduser().resolve()) for d in config.watch.dirs)
    if not inside or file.suffix.lower() not in {e.lower() for e in config.watch.extensions}:
        raise NotFound("that frame is not in a folder this server watches ([watch] dirs)")
    try:
        data = file.read_bytes()
    except OSError:
        raise NotFound("that frame's file is gone (moved or deleted by the recorder)") from None
    return data, mimetypes.guess_type(file.name)[0] or "application/octet-stream"


def _thumbnail(executor: Executor, cluster_id: int) -> bytes:
    """From the server's own gallery (one per process: no new connections per request, issue 20 item 7)."""
    gallery = faces.gallery(executor)
    cluster = next((c for c in gallery.unknowns() if c.id == cluster_id), None)
    if cluster is None:
        raise NotFound(f"no unknown cluster {cluster_id}")
    return gallery.stranger_thumbnail(cluster.sample_id)
