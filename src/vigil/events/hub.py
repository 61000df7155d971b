"""Fan-out of event changes to in-process listeners (the Server-Sent Events stream): each listener gets a bounded
queue; a listener too slow to keep up loses its oldest changes, never slows the watcher. A listener may give a
`wake` callback, called (from the publishing thread) after new changes are queued, so it can wait without polling."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable

from vigil.results import EventChange

LISTENER_QUEUE = 256


class EventHub:
    def __init__(self) -> None:
        self._listeners: dict[queue.Queue[EventChange], Callable[[], None] | None] = {}
        self._lock = threading.Lock()

    def subscribe(self, wake: Callable[[], None] | None = None) -> queue.Queue[EventChange]:
        listener: queue.Queue[EventChange] = queue.Queue(LISTENER_QUEUE)
        with self._lock:
            self._listeners[listener] = wake
        return listener

    def ready(self, timeout_s: float) -> bool:
        """A listener gets every change published after it subscribed: nothing to wait for (the log tail has)."""
        return True

    def unsubscribe(self, listener: queue.Queue[EventChange]) -> None:
        with self._lock:
            self._listeners.pop(listener, None)

    def publish(self, changes: list[EventChange]) -> None:
        with self._lock:
            listeners = list(self._listeners.items())
        for listener, wake in listeners:
            for change in changes:
                while True:
                    try:
                        listener.put_nowait(change)
                        break
                    except queue.Full:
                        with contextlib.suppress(queue.Empty):
                            listener.get_nowait()
            if wake is not None:
                wake()
