"""Before any route runs: the key (from headers, before a byte of the body is read) and a deadline on the body.

Admission counts requests only after this gate, so clients without a key cannot fill the in-flight limit. DeepStack
clients send the key as the `api_key` form field; for a keyless form the gate reads the body only until that field
(at most FORM_KEY_WINDOW bytes, under the body deadline): an `api_key` that comes after a file part, or a wrong one,
is refused without reading the upload. The route then checks the key again for its role (use or admin).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request

from vigil.config.serving import ServerConfig
from vigil.errors import SlowBody, Unauthorized
from vigil.http import auth
from vigil.http.mapping import error_body
from vigil.http.middleware import Scope, send_json

FORM_KEY_WINDOW = 64 * 1024  # bytes of a keyless form read while looking for its api_key field
ALWAYS_OPEN = ("/health", "/ready")
DOCS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/metrics")
# the web page's shell, its static files, and the two routes it uses to ask for a key: the page itself asks for one
PAGE = ("/", "/favicon.ico", "/v2/ui/features", "/v2/ui/session")
PAGE_STATIC = "/ui/"
_BOUNDARY = re.compile(rb'boundary="?([^";,]+)"?', re.IGNORECASE)
_NAME = re.compile(rb'\bname="([^"]*)"', re.IGNORECASE)


class BodyDeadline:
    """The whole body must arrive within `timeout_s` of the request's start (slowloris): past it, SlowBody (408)."""

    def __init__(self, app: Any, timeout_s: float) -> None:
        self.app, self.timeout_s = app, timeout_s

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        deadline = time.monotonic() + self.timeout_s
        late: list[str] = []
        body_done = False

        async def timed() -> dict:
            nonlocal body_done
            if body_done:  # later receives wait for the client to leave (a stream's disconnect watch): no limit
                return await receive()
            try:  # asyncio.timeout, not wait_for: no inner task, so a cancelled caller cannot lose a message
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                late.append(f"request body not received within {self.timeout_s:g} s")
                raise SlowBody(late[0]) from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def answer(message: dict) -> None:
            if not late:
                return await send(message)
            if message["type"] == "http.response.start":  # whatever the route made of it (FastAPI: 400), it is 408
                await send_json(send, 408, error_body(scope["path"], late[0], "SlowBody", 408))

        await self.app(scope, timed, answer)


class KeyGate:
    """With an api_key configured, a request without a valid key is answered 401 before its body is read."""

    def __init__(self, app: Any, server: ServerConfig) -> None:
        self.app, self.server = app, server
        self.open = ALWAYS_OPEN if server.keyed_docs else ALWAYS_OPEN + DOCS

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not self.server.api_key or path in self.open or keyless_page(path):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers", []))
        try:
            keys = _header_keys(headers) or _session_keys(scope)
        except Unauthorized as exc:  # a change through the page's cookie without its CSRF token
            return await send_json(send, 401, error_body(path, str(exc), "Unauthorized", 401))
        buffered: list[dict] = []
        if not keys:
            content_type = headers.get(b"content-type", b"")
            try:
                found, buffered = await _form_key(content_type, receive)
            except SlowBody as exc:
                return await send_json(send, 408, error_body(scope["path"], str(exc), "SlowBody", 408))
            keys = [found] if found else []
        if not auth.known(self.server, keys):
            message = "Incorrect api key" if keys else "this call needs the api key (X-API-Key, Bearer, or api_key " \
                                                       "form field before any file)"
            return await send_json(send, 401, error_body(scope["path"], message, "Unauthorized", 401))
        await self.app(scope, _replay(buffered, receive), send)


def keyless_page(path: str) -> bool:
    """The page routes the gate lets through without a key: admission does not count them (issue 20, item 3)."""
    return path in PAGE or path.startswith(PAGE_STATIC)


def _session_keys(scope: Scope) -> list[str]:
    """The key behind the web page's session cookie (page/sessions.py), read from the headers alone."""
    app = scope.get("app")
    sessions = getattr(getattr(app, "state", None), "sessions", None)
    return sessions.keys(Request(scope)) if sessions is not None else []


def _header_keys(headers: dict[bytes, bytes]) -> list[str]:
    keys = []
    if header := headers.get(b"x-api-key"):
        keys.append(header.decode("latin-1"))
    bearer = headers.get(b"authorization", b"").decode("latin-1")
    if bearer[:7].lower() == "bearer ":
        keys.append(bearer[7:].strip())
    return keys


async def _form_key(content_type: bytes, receive: Any) -> tuple[str | None, list[dict]]:
    """The api_key field of a form body, reading as little as possible; also the messages read, to replay."""
    multipart = content_type.lower().startswith(b"multipart/form-data")
    if not multipart and not content_type.lower().startswith(b"application/x-www-form-urlencoded"):
        return None, []
    boundary = _BOUNDARY.search(content_type) if multipart else None
    if multipart and boundary is None:
        return None, []
    messages, data, more = [], b"", True
    while more and len(data) <= FORM_KEY_WINDOW:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        data += message.get("body", b"")
        more = message.get("more_body", False)
        if boundary is not None:
            done, key = _scan_multipart(data, b"--" + boundary.group(1), complete=not more)
            if done:
                return key, messages
    if boundary is None and not more:
        values = parse_qs(data.decode("latin-1")).get("api_key", [])
        return (values[0] if values else None), messages
    return None, messages


def _scan_multipart(data: bytes, delimiter: bytes, complete: bool) -> tuple[bool, str | None]:
    """(decided, key): decided once the api_key part is whole, or a file part starts first, or the body ended."""
    parts = data.split(delimiter)[1:]
    for i, part in enumerate(parts):
        head, sep, body = part.partition(b"\r\n\r\n")
        if not sep:
            return complete, None
        if b"filename=" in head.lower():
            return True, None
        name = _NAME.search(head)
        last = i == len(parts) - 1
        if name and name.group(1) == b"api_key" and not last:  # its value ends where the next part begins
            return True, body.removesuffix(b"\r\n").decode("utf-8", "replace")
    return complete, None


def _replay(messages: list[dict], receive: Any) -> Any:
    pending = list(messages)

    async def replayed() -> dict:
        return pending.pop(0) if pending else await receive()

    return replayed
