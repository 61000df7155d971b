"""The live event stream (/v2/events/stream) as Server-Sent Events: its own bound on open streams, per key and in
total, outside admission (issue 20, item 4), and an idle stream that waits on the hub (or the log tail's, when
another process writes the events) instead of polling.

Starlette's StreamingResponse watches for the client leaving and cancels the generator, so no polling is needed for
that either: an idle stream wakes only for a change, a keep-alive, or its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import StreamingResponse

from vigil.errors import Overloaded
from vigil.formats import events as wire
from vigil.results import EventChange

KEEPALIVE_S = 15.0
READY_S = 5.0  # the most a new stream waits for its changes' starting point (a log tail's first query)
STREAM_PATH = "/v2/events/stream"


class StreamSlots:
    """At most `total` streams open at once, and `per_key` with one key; one event loop, so no lock."""

    def __init__(self, total: int, per_key: int) -> None:
        self.total, self.per_key = total, per_key
        self.open: Counter[str] = Counter()

    def take(self, who: str) -> None:
        if sum(self.open.values()) >= self.total:
            raise Overloaded(f"{self.total} event streams open in all ([events] stream_max); retry later")
        if self.open[who] >= self.per_key:
            raise Overloaded(f"{self.per_key} event streams open with this key ([events] stream_per_key); "
                             "retry later")
        self.open[who] += 1

    def give(self, who: str) -> None:
        self.open[who] -= 1
        if self.open[who] <= 0:
            del self.open[who]


def holder(keys: list[str], request: Request) -> str:
    """Whom a stream counts against: its key, or without keys its client address."""
    if keys:
        return "key:" + keys[0]
    return "client:" + (request.client.host if request.client else "")


class SlotResponse(StreamingResponse):
    """A stream that gives its slot back however it ends (done, client gone, cancelled), even if never started."""

    def __init__(self, body: AsyncIterator[str], slots: StreamSlots, who: str, **kwargs: Any) -> None:
        super().__init__(body, **kwargs)
        self.slots, self.who = slots, who

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slots.give(self.who)


class Changes(Protocol):
    """Where a stream's changes come from: the event service's hub, or the log tail (events/log_tail.py)."""

    def subscribe(self, wake: Callable[[], None] | None = None) -> queue.Queue[EventChange]: ...

    def ready(self, timeout_s: float) -> bool: ...

    def unsubscribe(self, listener: queue.Queue[EventChange]) -> None: ...


async def sse(changes: Changes, base: str, seconds: float) -> AsyncIterator[str]:
    """Changes as they come, keep-alives between, until the client leaves or `seconds` pass: a bounded stream, so
    proxies and clients never hold a connection forever (EventSource reconnects on its own)."""
    loop, woken = asyncio.get_running_loop(), asyncio.Event()

    def wake() -> None:  # from the watcher's (or the log tail's) thread
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is listening
            loop.call_soon_threadsafe(woken.set)

    listener = changes.subscribe(wake)
    try:
        if not changes.ready(0):  # "connected" promises every change from here on
            await asyncio.to_thread(changes.ready, READY_S)
        yield ": connected\n\n"
        async for line in _changes(listener, woken, base, seconds):
            yield line
    finally:
        changes.unsubscribe(listener)


async def _changes(listener: queue.Queue, woken: asyncio.Event, base: str, seconds: float) -> AsyncIterator[str]:
    ends = time.monotonic() + seconds
    quiet_until = time.monotonic() + KEEPALIVE_S
    while (now := time.monotonic()) < ends:
        try:
            change = listener.get_nowait()
        except queue.Empty:
            change = None
        if change is not None:
            quiet_until = now + KEEPALIVE_S
            yield wire.sse(change, base)
            continue
        woken.clear()
        if not listener.empty():  # a change queued between the look and the clear
            continue
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, min(ends, quiet_until) - now)):
                await woken.wait()
        if not woken.is_set() and time.monotonic() >= quiet_until:
            quiet_until = time.monotonic() + KEEPALIVE_S
            yield ": keep-alive\n\n"
