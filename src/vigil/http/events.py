"""The event routes: /v2/events (filters), an event's snapshot, a stranger cluster's thumbnail, and the live stream
as Server-Sent Events.

The log is read from the data folder whether the watcher runs in this process or as `vigil watch`; the stream
needs the watcher in this process (`[watch] dirs` set for `vigil serve`), otherwise it carries only keep-alives.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from vigil.errors import BadInput, NotFound
from vigil.events.location import event_log_exists, open_event_log
from vigil.events.log import EventLog, EventQuery
from vigil.execute.executor import Executor
from vigil.formats import events as wire
from vigil.http import auth, faces
from vigil.http import stream as live
from vigil.http.openapi import JPEG_ANSWER, SSE_ANSWER, TEXT_SCHEMA, TIME_SCHEMA, RowId

TextQuery = Annotated[str | None, Query(json_schema_extra=TEXT_SCHEMA)]


class _Logs:
    """The running service's log, or the configured one (an SQLite file once it exists, or PostgreSQL) opened on
    first use."""

    def __init__(self, executor: Executor) -> None:
        self.config = executor.config
        self._log: EventLog | None = None

    def get(self, request: Request) -> EventLog | None:
        service = getattr(request.app.state, "events", None)
        if service is not None:
            return service.log
        location = self.config.events_location()
        if self._log is None and event_log_exists(location):
            self._log = open_event_log(location)
        return self._log


def events_router(executor: Executor) -> APIRouter:
    router = APIRouter(prefix="/v2/events", tags=["events"])
    user = Depends(_user_key(executor))
    _, admin = auth.key_checks(executor.config.server)
    logs = _Logs(executor)
    config = executor.config
    base = config.events.public_url or f"http://{config.server.host}:{config.server.port}"
    slots = live.StreamSlots(config.events.stream_max, config.events.stream_per_key)

    @router.get("", dependencies=[user], summary="Events, newest first (filter by camera, label, name, time)")
    async def list_events(request: Request, camera: TextQuery = None, label: TextQuery = None, name: TextQuery = None,
                          since: Annotated[str | None, Query(description="epoch s, ISO 8601 or age: 30m",
                                                             json_schema_extra=TIME_SCHEMA)] = None,
                          until: Annotated[str | None, Query(description="epoch s, ISO 8601 or age",
                                                             json_schema_extra=TIME_SCHEMA)] = None,
                          limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        query = EventQuery(camera, label, name, _time(since), _time(until), limit)
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
        return live.SlotResponse(live.sse(service, base, seconds), slots, who, media_type="text/event-stream",
                                   headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

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


def _user_key(executor: Executor) -> Any:
    async def check(request: Request) -> None:
        auth.check(executor.config.server, await auth.presented_keys(request), admin=False)

    return check


def _time(text: str | None) -> float | None:
    if text is None:
        return None  # an empty one is not a time: 400, as its schema says
    try:
        return wire.parse_time(text, time.time())
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _thumbnail(executor: Executor, cluster_id: int) -> bytes:
    """From the server's own gallery (one per process: no new connections per request, issue 20 item 7)."""
    gallery = faces.gallery(executor)
    cluster = next((c for c in gallery.unknowns() if c.id == cluster_id), None)
    if cluster is None:
        raise NotFound(f"no unknown cluster {cluster_id}")
    return gallery.stranger_thumbnail(cluster.sample_id)
