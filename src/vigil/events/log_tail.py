"""The live event stream when another process writes the events: `vigil serve --ray` (the driver holds the event
service, the ingress replicas serve the stream) or `vigil watch` beside a `vigil serve` on the same log.

One poller per process, shared by every open stream: while at least one listens, a thread reads the log about once
a second (one query by primary key: the events after the last id seen, and the open ones followed) and turns what
changed into the EventChanges the event service's hub publishes, fanned out by an EventHub of its own, so a stream
cannot tell the two apart. It starts with the first listener, from the log's newest id (history is not replayed),
and stops with the last. A log that cannot be read (a PostgreSQL that went away, an SQLite file not yet written)
costs one warning; the poller keeps trying, and the streams keep their keep-alives.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from vigil.errors import VigilError
from vigil.events.hub import EventHub
from vigil.events.log import EventLog
from vigil.results import Event, EventChange

POLL_S = 1.0
log = logging.getLogger(__name__)


class LogTail:
    """`subscribe`/`unsubscribe` as EventHub's, over the event log `opener` gives (None while there is none)."""

    def __init__(self, opener: Callable[[], EventLog | None], every_s: float = POLL_S) -> None:
        self._opener, self._every = opener, every_s
        self._hub = EventHub()
        self._lock = threading.Lock()
        self._listeners = 0
        self._stop: threading.Event | None = None  # the running poller's; None when none runs
        self._started = threading.Event()  # the running poller has its starting point (or found no log to read)

    def subscribe(self, wake: Callable[[], None] | None = None) -> queue.Queue[EventChange]:
        listener = self._hub.subscribe(wake)
        with self._lock:
            self._listeners += 1
            if self._stop is None:
                self._stop, self._started = threading.Event(), threading.Event()
                threading.Thread(target=self._poll, args=(self._stop, self._started), name="vigil-log-tail",
                                 daemon=True).start()
        return listener

    def ready(self, timeout_s: float) -> bool:
        """Wait (in a thread, never on the event loop) until the poller has read its starting point, so every
        change after a stream says it is connected reaches that stream."""
        with self._lock:
            started = self._started
        return started.wait(timeout_s)

    def unsubscribe(self, listener: queue.Queue[EventChange]) -> None:
        self._hub.unsubscribe(listener)
        with self._lock:
            self._listeners -= 1
            if self._listeners == 0 and self._stop is not None:
                self._stop.set()
                self._stop = None

    @property
    def polling(self) -> bool:
        return self._stop is not None

    def _poll(self, stop: threading.Event, started: threading.Event) -> None:
        follower = Follower(self._opener)
        while not stop.is_set():
            changes = follower.look()
            started.set()
            with self._lock:  # a poller stopped mid-query publishes nothing: its successor starts afresh
                if stop.is_set():
                    return
                if changes:
                    self._hub.publish(changes)
            stop.wait(self._every)


def _said(event: Event) -> tuple:
    """What an open event says that makes an "update" when it changes (not its last sighting or frame count)."""
    return event.count, event.score, event.box, event.name, event.cluster_id


@dataclass
class Follower:
    """One poller's reading of the log: the last id seen and the open events it follows."""

    opener: Callable[[], EventLog | None]
    last_id: int | None = None  # None until the first look that reached the log
    open: dict[int, Event] = field(default_factory=dict)
    down: bool = False

    def look(self) -> list[EventChange]:
        """The changes since the last look; none, with one warning per outage, while the log cannot be read."""
        try:
            changes = self._read()
        except (VigilError, sqlite3.Error, OSError) as exc:
            if not self.down:
                log.warning("the live event stream cannot read the event log; it keeps trying", extra={
                    "error": str(exc)})
            self.down = True
            return []
        if self.down:
            log.info("the live event stream reads the event log again")
            self.down = False
        return changes

    def _read(self) -> list[EventChange]:
        source = self.opener()
        if source is None:  # not written yet: whatever it will hold is new
            self.last_id = 0 if self.last_id is None else self.last_id
            return []
        if self.last_id is None:
            self._start(source)
            return []
        if self.down and source.newest_id() < self.last_id:  # back, but as another log (a database made afresh)
            self._start(source)
            return []
        return self._changes(source.following(self.last_id, self.open.keys()))

    def _start(self, source: EventLog) -> None:
        self.last_id = source.newest_id()
        self.open = {e.id: e for e in source.open_events(self.last_id)}

    def _changes(self, events: list[Event]) -> list[EventChange]:
        changes, still_open = [], {}
        for event in events:
            before = self.open.get(event.id)
            if before is None and event.id > self.last_id:
                changes.append(EventChange("new", event))
            elif before is not None and event.end is None and _said(before) != _said(event):
                changes.append(EventChange("update", event))
            if event.end is not None:
                changes.append(EventChange("end", event))
            else:
                still_open[event.id] = event
        self.open = still_open  # an event not found was deleted (pruned, forgotten): no more to say of it
        self.last_id = max([self.last_id, *(e.id for e in events)])
        return changes
