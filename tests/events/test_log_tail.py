"""The live event stream when another process writes the events (`vigil watch` beside `vigil serve`, or `vigil
serve --ray`'s driver): a real app with no event service of its own, served on 127.0.0.1, a real SSE client, and
another EventLog writer on the same SQLite file (or PostgreSQL database). The stream follows the log: new, update and
end arrive as the hub's stream would give them, history is not replayed, one poller serves every stream and none
runs without a stream, and a database that goes away costs one warning, not the stream."""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.events.app_server import serving
from tests.faces.test_gallery_postgres import url  # noqa: F401 - a fresh schema on the test server
from tests.serve.server import free_port
from tests.serve.test_postgres_gone import _admin, _within, database  # noqa: F401 - a database of its own
from vigil.config.settings import VigilConfig
from vigil.errors import StoreUnavailable
from vigil.events.location import open_event_log
from vigil.events.log import EventLog
from vigil.events.log_tail import LogTail
from vigil.execute.local import Engine
from vigil.formats import events as wire
from vigil.results import Event, EventChange
from vigil.serve.app import create_app

BASE = "http://vigil.example:8080"
WAIT_S = 2.5  # a change reaches the stream within about a second (one poll): 2 s, and some slack for a busy CI


class Client:
    """An SSE client in a thread of its own: each message as the text the server sent, in order."""

    def __init__(self, served: str) -> None:
        self.messages: queue.Queue[str] = queue.Queue()
        self.connected = threading.Event()
        self._http = httpx.Client(timeout=30)
        self._thread = threading.Thread(target=self._read, args=(served,), daemon=True)
        self._thread.start()
        assert self.connected.wait(10), "the stream did not open"

    def _read(self, served: str) -> None:
        with contextlib.suppress(httpx.HTTPError), self._http.stream("GET", f"{served}/v2/events/stream") as reply:
            assert reply.status_code == 200
            self._socket = reply.extensions["network_stream"].get_extra_info("socket")
            message = ""
            for line in reply.iter_lines():
                if line.startswith(": connected"):
                    self.connected.set()
                elif line:
                    message += line + "\n"
                elif message:
                    self.messages.put(message + "\n")
                    message = ""

    def next(self, within_s: float = WAIT_S) -> str:
        return self.messages.get(timeout=within_s)

    def close(self) -> None:
        """Leave, as a closed browser tab does: the connection goes (a shutdown wakes the reading thread)."""
        self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        self._http.close()


def _event(start: float, **kwargs) -> Event:
    return Event("front", "person", start, 0.8, (10.0, 20.0, 110.0, 220.0), last_seen=start, **kwargs)


def _said(log: EventLog, kind: str, event: Event) -> str:
    """Save a change as the event service does, and give the SSE message the hub's stream would have sent for it."""
    log.save([EventChange(kind, event)])
    return wire.sse(EventChange(kind, event), BASE)


def _tails() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vigil-log-tail"]


def _quiet_within(seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _tails() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _tails()


@contextmanager
def _app(store, where: str | Path) -> Iterator[str]:
    """The real app with no event service (no watcher here), served on 127.0.0.1; its URL."""
    port = free_port()
    data = where.parent if isinstance(where, Path) else Path("data")
    config = VigilConfig(server={"port": port}, events={"database": str(where), "public_url": BASE},
                         store={"data_dir": data})
    engine = Engine(config, store)
    try:
        with serving(create_app(engine), port):
            yield f"http://127.0.0.1:{port}"
    finally:
        engine.close()


def test_new_update_end_from_another_writer_arrive_as_the_hubs_stream_gives_them(tmp_path, store):
    path = tmp_path / "events.sqlite3"
    writer = EventLog(path)  # the other process: `vigil watch`, or the --ray driver
    old = _event(time.time() - 60)
    _said(writer, "new", old)  # history: not replayed on connect
    with _app(store, path) as served:
        client = Client(served)
        try:
            e = _event(time.time(), track_id=7)
            assert _said(writer, "new", e) == client.next()  # written first, then read
            e.count, e.max_count, e.score, e.frames, e.last_seen = 2, 2, 0.91, 2, e.start + 1
            assert _said(writer, "update", e) == client.next()
            e.last_seen, e.frames = e.start + 2, 3  # seen again, saying nothing new: no update
            writer.save([EventChange("update", e)])
            e.end, e.count = e.start + 5, 0
            assert _said(writer, "end", e) == client.next()
            old.end = old.start + 1  # an event open before the stream started still ends on it
            assert _said(writer, "end", old) == client.next()
            with pytest.raises(queue.Empty):
                client.next(1.5)
        finally:
            client.close()
        assert _quiet_within(5)  # the last stream gone, its poller stops
    writer.close()


class CountingLog(EventLog):
    """A real SQLite log that counts the poller's looks."""

    looks = 0

    def following(self, last_id, ids=()):
        CountingLog.looks += 1
        return super().following(last_id, ids)


def test_two_streams_share_one_poller_and_none_polls_without_a_stream(tmp_path):
    reader, writer = CountingLog(tmp_path / "e.sqlite3"), EventLog(tmp_path / "e.sqlite3")
    tail = LogTail(lambda: reader, every_s=0.1)
    time.sleep(0.5)
    assert CountingLog.looks == 0 and not _tails()  # nobody listens: no poller, no query
    first, second = tail.subscribe(), tail.subscribe()
    try:
        assert tail.ready(5) and len(_tails()) == 1 and tail.polling
        started, looks = time.monotonic(), CountingLog.looks
        e = _event(time.time())
        writer.save([EventChange("new", e)])
        assert first.get(timeout=WAIT_S).event.id == second.get(timeout=WAIT_S).event.id == e.id
        time.sleep(1.0)
        polls = (time.monotonic() - started) / 0.1
        assert CountingLog.looks - looks <= polls + 2  # one query a poll, not one per stream
    finally:
        tail.unsubscribe(first)
    assert tail.polling and len(_tails()) == 1  # one stream still open
    tail.unsubscribe(second)
    assert not tail.polling and _quiet_within(2)
    stopped = CountingLog.looks
    time.sleep(0.5)
    assert CountingLog.looks == stopped
    later = tail.subscribe()  # a new first stream starts a poller again, from the log's newest id
    try:
        assert tail.ready(5)
        with pytest.raises(queue.Empty):
            later.get(timeout=0.5)  # e is history now
    finally:
        tail.unsubscribe(later)
    reader.close()
    writer.close()


def test_the_stream_follows_a_postgresql_log(store, url):  # noqa: F811 - the fixture imported above
    writer = open_event_log(url)
    try:
        with _app(store, url) as served:
            client = Client(served)
            try:
                e = _event(time.time())
                assert _said(writer, "new", e) == client.next()
                e.end = e.start + 3
                assert _said(writer, "end", e) == client.next()
            finally:
                client.close()
    finally:
        writer.close()


def test_a_postgresql_log_that_goes_away_costs_one_warning_not_the_stream(database, caplog):  # noqa: F811
    name, address = database
    writer, reader = open_event_log(address), open_event_log(address)
    tail = LogTail(lambda: reader, every_s=0.2)
    caplog.set_level(logging.INFO, logger="vigil.events.log_tail")
    listener = tail.subscribe()
    try:
        assert tail.ready(10)
        before = _event(time.time())
        writer.save([EventChange("new", before)])
        assert listener.get(timeout=WAIT_S).event.id == before.id == 1
        _admin(f"DROP DATABASE {name} WITH (FORCE)")
        _within(20, lambda: _said_by_tail(caplog) == ["WARNING"], "the warning")
        time.sleep(1.0)  # five more polls against a missing database: still the one warning
        assert _said_by_tail(caplog) == ["WARNING"] and tail.polling
        _admin(f"CREATE DATABASE {name}")  # back, empty: its ids start again at 1
        _within(20, lambda: _said_by_tail(caplog) == ["WARNING", "INFO"], "the poller reading again")
        e = _event(time.time())
        _within(20, lambda: _saved(writer, e), "the writer back")  # it finds its connections lost first
        change = listener.get(timeout=WAIT_S)
        assert (change.type, change.event.id) == ("new", e.id) and e.id == 1
    finally:
        tail.unsubscribe(listener)
        writer.close()
        reader.close()


def _saved(writer: EventLog, event: Event) -> bool:
    try:
        writer.save([EventChange("new", event)])
    except StoreUnavailable:
        return False
    return True


def _said_by_tail(caplog) -> list[str]:
    return [r.levelname for r in caplog.records if r.name == "vigil.events.log_tail"]



def test_an_event_begun_and_ended_between_two_looks_gives_new_then_end(tmp_path):
    writer = EventLog(tmp_path / "e.sqlite3")
    tail = LogTail(lambda: writer, every_s=1.0)
    listener = tail.subscribe()
    try:
        assert tail.ready(5)
        e = _event(time.time())
        writer.save([EventChange("new", e)])
        e.end = e.start + 0.5
        writer.save([EventChange("end", e)])
        got = [listener.get(timeout=WAIT_S) for _ in range(2)]
        assert [(c.type, c.event.id, c.event.end) for c in got] == [("new", e.id, e.end), ("end", e.id, e.end)]
    finally:
        tail.unsubscribe(listener)
        writer.close()
