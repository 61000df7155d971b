"""A header timeout for uvicorn (issue 20, item 2): a connection that has not finished a request's headers within
`[server] header_timeout_s` of connecting (or of the first byte after its last answer) is closed.

uvicorn has no such option: `timeout_keep_alive` is armed only after an answer, so a connection that sends part of
its first request's headers and stops is held forever, and enough of them exhaust the descriptors (`/health`
included). A front proxy (nginx `client_header_timeout`) would be a second process to deploy; this is a small
subclass of whichever protocol uvicorn picked (httptools, or h11), touching only its public `cycle` and `transport`:
a request whose headers are complete has a new cycle, and the timer then does nothing. Bodies have their own
deadline (`body_timeout_s`, http/gate.py).
"""

from __future__ import annotations

import asyncio
from typing import Any


def with_header_timeout(base: type[asyncio.Protocol], timeout_s: float) -> type[asyncio.Protocol]:
    """`base` (a uvicorn HTTP protocol class) closing connections whose headers are late."""

    class HeaderTimeout(base):  # type: ignore[valid-type, misc]
        _header_timer: asyncio.TimerHandle | None = None
        _header_cycle: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            waiting = cycle is None or cycle.response_complete  # these bytes begin a next request's headers
            if waiting and (self._header_timer is None or self._header_cycle is not cycle):
                self._arm_header_timer()  # the timer running, if any, watched the headers of the last request
            super().data_received(data)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

        def _arm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_cycle = self.cycle
            self._header_timer = self.loop.call_later(timeout_s, self._headers_late)

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.cycle is self._header_cycle and not self.transport.is_closing():  # no request started since
                self.transport.close()

    HeaderTimeout.__name__ = f"HeaderTimeout{base.__name__}"
    return HeaderTimeout
