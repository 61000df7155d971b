"""The stores under abuse (issue 20): NUL characters answered as bad input on SQLite and PostgreSQL alike (item 11),
and retention giving disk space back, file and WAL (item 12). Real SQLite files, a real PostgreSQL server."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tests.faces.test_gallery import vec
from tests.faces.test_gallery_postgres import url  # noqa: F401 - a fresh schema on the test server
from vigil.db.sqlite_file import JOURNAL_LIMIT_BYTES
from vigil.errors import BadInput
from vigil.events.location import open_event_log
from vigil.events.log import EventLog, EventQuery
from vigil.faces.gallery.gallery import Gallery, Sample
from vigil.faces.gallery.location import open_gallery
from vigil.results import Event, EventChange

SNAPSHOT = 200_000  # bytes of one event's snapshot


def _events(log: EventLog, n: int, start: float = 100.0) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        e = Event("front", "person", start + i, 0.8, (1.0, 2.0, 3.0, 4.0), last_seen=start + i)
        log.save([EventChange("new", e)], {id(e): rng.bytes(SNAPSHOT)})  # incompressible, as JPEGs are
        e.end = start + i + 1
        log.save([EventChange("end", e)])


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path) -> Path | str:
    return tmp_path / "vigil.sqlite3" if request.param == "sqlite" else request.getfixturevalue("url")


def test_nul_characters_are_bad_input_on_both_stores(location):
    log = open_event_log(location if isinstance(location, str) else location.with_name("events.sqlite3"))
    gallery = open_gallery(location)
    try:
        _events(log, 1)
        gallery.add_samples("alice", [Sample(vec(1))])
        for text in ("a\x00b", "\x00"):
            for query in (EventQuery(camera=text), EventQuery(label=text), EventQuery(name=text)):
                with pytest.raises(BadInput, match="NUL"):
                    log.query(query)
            with pytest.raises(BadInput, match="NUL"):
                gallery.remove(text)
            with pytest.raises(BadInput):
                gallery.add_samples(text, [Sample(vec(2))])
        assert [e.camera for e in log.query(EventQuery(camera="front"))] == ["front"]  # both still answer
        assert gallery.remove("alice") == 1 and gallery.people() == []
    finally:
        log.close()
        gallery.close()


def _sizes(path: Path) -> tuple[int, int]:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size, wal.stat().st_size if wal.exists() else 0


def test_retention_gives_the_space_back_file_and_wal(tmp_path):
    path = tmp_path / "events.sqlite3"
    log = EventLog(path)
    _events(log, 100)  # ~20 MB of snapshots
    file_before, wal_before = _sizes(path)
    assert file_before + wal_before > 100 * SNAPSHOT
    assert log.prune(days=10_000, megabytes=1.0, now=1000.0) >= 95  # the oldest go until 1 MB is left
    file_after, wal_after = _sizes(path)
    assert file_after < 2 * 1024 * 1024 and wal_after <= JOURNAL_LIMIT_BYTES, (file_after, wal_after)
    _events(log, 2, start=2000.0)  # and the log works on
    assert len(log.query(EventQuery(limit=1000))) >= 2
    log.close()


def test_an_older_file_switches_to_incremental_vacuum_once_and_the_gallery_shrinks_too(tmp_path):
    path = tmp_path / "gallery.sqlite3"
    gallery = Gallery(path)
    gallery.close()
    with sqlite3.connect(path) as conn:  # as an older Vigil left it: no auto_vacuum
        conn.execute("PRAGMA auto_vacuum=NONE")
        conn.execute("VACUUM")
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    gallery = Gallery(path)
    assert gallery._conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # INCREMENTAL
    rng = np.random.default_rng(1)
    for i in range(60):
        gallery.add_samples("bob", [Sample(vec(i), thumbnail=rng.bytes(100_000))])
    grown = sum(_sizes(path))
    assert gallery.remove("bob") == 60
    assert sum(_sizes(path)) < grown / 4, (grown, _sizes(path))
    gallery.add_samples("carol", [Sample(vec(99))])
    assert [p.name for p in gallery.people()] == ["carol"]
    gallery.close()
    assert os.stat(path).st_mode & 0o777 == 0o600
