"""Fan-out of event changes to in-process listeners (the Server-Sent Events stream): each listener gets a bounded
queue; a listener too slow to keep up loses its oldest changes, never slows the watcher."""

from __future__ import annotations

import contextlib
import queue
import threading

from vigil.results import EventChange

LISTENER_QUEUE = 256


class EventHub:
    def __init__(self) -> None:
        self._listeners: set[queue.Queue[EventChange]] = set()
        self._lock = threading.Lock()

    def subscribe(self) -> queue.Queue[EventChange]:
        listener: queue.Queue[EventChange] = queue.Queue(LISTENER_QUEUE)
        with self._lock:
            self._listeners.add(listener)
        return listener

    def unsubscribe(self, listener: queue.Queue[EventChange]) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def publish(self, changes: list[EventChange]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            for change in changes:
                while True:
                    try:
                        listener.put_nowait(change)
                        break
                    except queue.Full:
                        with contextlib.suppress(queue.Empty):
                            listener.get_nowait()
