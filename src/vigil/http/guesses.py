"""Key guessing (issue 20, item 9): a client address whose requests brought a wrong key (a header, the `api_key`
form field, or a login on the page) `limit` times within a minute gets 429 with Retry-After for
everything until the oldest of those failures is a minute old. Loopback clients count too: only failures do, and a
client holding the right key never fails. At most MAX_CLIENTS addresses are remembered (the oldest is forgotten)."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Any

from vigil.http.mapping import error_body
from vigil.http.middleware import Scope, send_json

WINDOW_S = 60.0
MAX_CLIENTS = 10000
LOGIN = "/v2/ui/session"
_CREDENTIALS = (b"x-api-key", b"authorization")


class Guesses:
    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit
        self.failed: OrderedDict[str, deque[float]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("",))[0]
        wait = self._locked(client)
        if wait > 0:
            message = f"too many wrong keys from this address ({self.limit} a minute); retry later"
            return await send_json(send, 429, error_body(scope["path"], message, "TooManyFailures", 429),
                                   [(b"retry-after", str(wait).encode())])
        counts = _brings_credentials(scope)

        async def watched(message: dict) -> None:
            if counts and message["type"] == "http.response.start" and message["status"] == 401:
                self._fail(client)
            await send(message)

        await self.app(scope, receive, watched)

    def _locked(self, client: str) -> int:
        times = self.failed.get(client)
        if not times:
            return 0
        now = time.monotonic()
        while times and times[0] <= now - WINDOW_S:
            times.popleft()
        if not times:
            del self.failed[client]
            return 0
        return int(times[0] + WINDOW_S - now) + 1 if len(times) >= self.limit else 0

    def _fail(self, client: str) -> None:
        times = self.failed.pop(client, None) or deque(maxlen=self.limit)
        times.append(time.monotonic())
        self.failed[client] = times  # the most recent failure last
        while len(self.failed) > MAX_CLIENTS:
            self.failed.popitem(last=False)


def _brings_credentials(scope: Scope) -> bool:
    """A key in a header, a cookie, a form (its `api_key` field) or a login: a 401 then means a wrong one."""
    if scope["path"] == LOGIN:
        return True
    for name, value in scope.get("headers", []):
        if name in _CREDENTIALS:  # not the session cookie: an expired one is no guess (its token is 256 random bits)
            return True
        if name == b"content-type" and value.lower().startswith((b"multipart/form-data",
                                                                  b"application/x-www-form-urlencoded")):
            return True
    return False
