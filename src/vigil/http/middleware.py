"""Plain ASGI middlewares: admission (requests in flight), the upload size limit, the access log with metrics."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from vigil.execute.metrics import Metrics
from vigil.http.mapping import error_body

log = logging.getLogger("vigil.access")
Scope = dict[str, Any]


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413 before any of it reaches a route.

    A declared Content-Length over the limit is answered at once, after reading and discarding the body (up to
    `drain_bytes`) so that ordinary clients, which send the whole body before reading the answer, see the 413 instead
    of a reset connection. A body without a declared length is counted as it streams in."""

    def __init__(self, app: Any, max_bytes: int, drain_bytes: int) -> None:
        self.app, self.max_bytes, self.drain_bytes = app, max_bytes, drain_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            if declared <= self.drain_bytes:
                await _drain(receive)
            return await self._refuse(scope, send, declared)
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    from vigil.errors import TooLarge

                    raise TooLarge(f"request body over the {self.max_bytes}-byte limit")
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, send: Any, size: int) -> None:
        message = f"request body of {size} bytes is over the {self.max_bytes}-byte limit"
        await send_json(send, 413, error_body(scope["path"], message, "TooLarge", 413))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _drain(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


class Admission:
    """At most `limit` requests inside the app at once (each may hold an upload in memory); the next one gets 503
    with Retry-After at once. Health and readiness are always answered; so are the paths `free` names (the keyless
    page routes, bounded by the body deadline and size limit instead, and the event streams, which have their own
    bound), so that they never hold a slot a keyed request needs."""

    OPEN = ("/health", "/ready")

    def __init__(self, app: Any, limit: int, retry_after_s: int, free: Any = None) -> None:
        self.app, self.limit, self.retry_after_s = app, limit, retry_after_s
        self.free = free or (lambda path: False)
        self.inside = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.OPEN or self.free(scope["path"]):
            return await self.app(scope, receive, send)
        if self.inside >= self.limit:
            message = f"server busy: {self.limit} requests in progress; retry later"
            return await send_json(send, 503, error_body(scope["path"], message, "Overloaded", 503),
                               [(b"retry-after", str(self.retry_after_s).encode())])
        self.inside += 1  # one event loop: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.inside -= 1


async def send_json(send: Any, status: int, body: dict, headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close"), *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


class AccessLog:
    """One structured log line and one metrics observation per request, labelled by route template."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def watched(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.request("http", route, status, seconds)
            client = scope.get("client") or ("", 0)
            log.info("request", extra={"method": scope["method"], "path": scope["path"], "route": route,
                                       "status": status, "ms": round(seconds * 1000, 1), "client": client[0]})
