"""`Allow` that names every method a path has (issue 20): Starlette answers a method a path lacks from the first route
whose path matches, so `/v2/gallery/{name}` said `Allow: POST` although DELETE and PATCH are there too. This layer
answers OPTIONS itself (204 with the whole list) and puts the whole list on every 405. The paths and their methods
are the app's own OpenAPI document (this FastAPI keeps included routers as single entries in `app.routes`), read
once, and only for those two answers; paths outside the document (the page's files) are left as they were."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

_PARAM = re.compile(r"\{[^}]+\}")
_VERBS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def path_methods(document: dict[str, Any]) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """Each documented path as a pattern ({param}: one segment) with its methods."""
    found = []
    for template, item in document.get("paths", {}).items():
        parts = _PARAM.split(template)
        pattern = re.compile("[^/]+".join(re.escape(p) for p in parts) + "$")
        found.append((pattern, frozenset(m.upper() for m in item if m in _VERBS)))
    return found


class Methods:
    def __init__(self, app: ASGIApp, document: Callable[[], dict[str, Any]]) -> None:
        self.app, self.document = app, document
        self._paths: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    def allowed(self, path: str) -> str:
        """The methods of `path`, OPTIONS included, as an Allow value ("" for a path the document lacks)."""
        if self._paths is None:
            self._paths = path_methods(self.document())
        methods = set().union(*(m for pattern, m in self._paths if pattern.match(path)))
        return ", ".join(sorted(methods | {"OPTIONS"})) if methods else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and (allow := self.allowed(scope["path"])):
            await send({"type": "http.response.start", "status": 204, "headers": [(b"allow", allow.encode())]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def sending(message: dict[str, Any]) -> None:
            wrong = message["type"] == "http.response.start" and message["status"] == 405
            if wrong and (allow := self.allowed(scope["path"])):
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message = {**message, "headers": [*headers, (b"allow", allow.encode())]}
            await send(message)

        await self.app(scope, receive, sending)
