"""The event log: real SQLite, the shared schema migrations, WAL, 0600, filters, retention, restart bookkeeping.

The behaviour tests take a `log` fixture: test_log_postgres.py runs them again on PostgreSQL."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from vigil.errors import ModelIntegrityError, NotFound
from vigil.events.log import EventLog, EventQuery
from vigil.events.schema import EVENTS_SCHEMA, SCHEMA_VERSION
from vigil.results import Event, EventChange


@pytest.fixture
def log(tmp_path) -> EventLog:
    return EventLog(tmp_path / "e.sqlite3")


def store(log: EventLog, camera="front", label="person", start=100.0, name=None, cluster=None, jpeg=None,
          end=None) -> Event:
    e = Event(camera, label, start, 0.8, (1.0, 2.0, 3.0, 4.0), name=name, cluster_id=cluster, last_seen=start)
    log.save([EventChange("new", e)], {id(e): jpeg} if jpeg else None)
    if end is not None:
        e.end = end
        log.save([EventChange("end", e)])
    return e


def test_a_new_log_is_private_wal_and_versioned(tmp_path):
    path = tmp_path / "data" / "events.sqlite3"
    EventLog(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT key, value FROM meta").fetchall() == [(EVENTS_SCHEMA.key, str(SCHEMA_VERSION))]


def test_a_newer_or_foreign_file_is_refused_and_left_alone(tmp_path):
    newer = tmp_path / "newer.sqlite3"
    EventLog(newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (str(SCHEMA_VERSION + 1), EVENTS_SCHEMA.key))
    with pytest.raises(ModelIntegrityError, match="newer than this Vigil"):
        EventLog(newer)
    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")
    with pytest.raises(ModelIntegrityError, match="not a Vigil event log"):
        EventLog(foreign)
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ModelIntegrityError, match="unreadable"):
        EventLog(garbage)
    assert garbage.read_bytes() == b"not a database at all" * 100


def test_filters_newest_first(log):
    store(log, "front", "person", 100, end=110)
    store(log, "back", "car", 200)
    alice = store(log, "front", "face", 300, name="alice", jpeg=b"\xff\xd8jpeg")
    assert [e.start for e in log.query()] == [300, 200, 100]
    assert [e.label for e in log.query(EventQuery(camera="front"))] == ["face", "person"]
    assert [e.id for e in log.query(EventQuery(name="alice"))] == [alice.id]
    assert [e.start for e in log.query(EventQuery(since=150))] == [300, 200]
    assert [e.start for e in log.query(EventQuery(until=150))] == [100]
    assert log.query(EventQuery(limit=1))[0].id == alice.id
    assert log.snapshot(alice.id) == b"\xff\xd8jpeg" and log.get(alice.id).has_snapshot
    alice.count = 2
    log.save([EventChange("update", alice)], {id(alice): b"\xff\xd8newer"})  # a better snapshot replaces it
    assert log.snapshot(alice.id) == b"\xff\xd8newer" and log.get(alice.id).count == 2
    with pytest.raises(NotFound, match="no snapshot"):
        log.snapshot(1)
    with pytest.raises(NotFound, match="no event 99"):
        log.get(99)


def test_retention_by_age_and_by_size_whichever_first(log):
    day = 86400.0
    old = store(log, start=0, end=10, jpeg=b"x" * 1000)
    kept = [store(log, start=9 * day + i, end=9 * day + i + 1, jpeg=b"x" * 400_000) for i in range(3)]
    assert log.prune(days=5, megabytes=100, now=10 * day) == 1  # by age
    assert {e.id for e in log.query()} == {e.id for e in kept}
    assert log.prune(days=5, megabytes=1.0, now=10 * day) == 1  # 1.2 MB of snapshots > 1 MB: the oldest goes
    assert {e.id for e in log.query()} == {e.id for e in kept[1:]}
    assert old.id not in {e.id for e in log.query()}


def test_an_event_lists_its_frames_up_to_a_bound_and_they_go_with_it(log):
    from vigil.events.log import FRAMES_KEPT

    e = Event("front", "person", 10.0, 0.8, (1.0, 2.0, 3.0, 4.0), count=2, last_seen=10.0)
    log.save([EventChange("new", e)], processed=("/nvr/front/1.jpg", 1.0), shown=[e])
    for i in range(2, FRAMES_KEPT + 5):  # later frames that change nothing still list themselves
        e.frames, e.last_seen, e.count = i, 10.0 + i, 1
        log.save([], processed=(f"/nvr/front/{i}.jpg", float(i)), shown=[e])
    frames = log.frames(e.id)
    assert len(frames) == FRAMES_KEPT and frames[0] == (10.0, "/nvr/front/1.jpg", 2, 0.8)
    assert frames[1][1:3] == ("/nvr/front/2.jpg", 1) and frames[-1][1] == f"/nvr/front/{FRAMES_KEPT}.jpg"
    with pytest.raises(NotFound):
        log.frames(e.id + 1)
    e.end = 100.0
    log.save([EventChange("end", e)])
    assert log.prune(days=1, megabytes=100, now=10 * 86400.0) == 1
    assert log._conn.execute("SELECT COUNT(*) FROM event_frames").fetchone()[0] == 0  # deleted with the event


def test_restart_bookkeeping_and_relabelling(log):
    log.mark_processed("/nvr/3/1.jpg", 5.0)
    assert log.processed("/nvr/3/1.jpg", 5.0) and not log.processed("/nvr/3/1.jpg", 6.0)
    log.mark_processed("/nvr/3/1.jpg", 5.0)  # marked again (a re-run): still one row
    assert log.newest_processed("/nvr/3") == 5.0
    assert log.newest_processed("/nvr") == 5.0 and log.newest_processed("/nv") is None
    log.note_camera("3", {"person"})
    log.note_camera("3", {"person", "car"})
    assert log.cameras() == {"3": {"person", "car"}}
    log.forget_camera("3")
    assert log.cameras() == {}
    open_event = store(log, "3", "face", 10, name="unknown", cluster=4)
    assert log.end_open(now=20) == 1 and log.get(open_event.id).end == 10
    assert log.relabel_cluster(4, "bob") == 1 and log.get(open_event.id).name == "bob"


OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, camera TEXT NOT NULL, label TEXT NOT NULL, name TEXT, cluster_id INTEGER,
    start REAL NOT NULL, last_seen REAL NOT NULL, end_time REAL, count INTEGER NOT NULL, max_count INTEGER NOT NULL,
    score REAL NOT NULL, box TEXT NOT NULL, frames INTEGER NOT NULL, source TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS events_start ON events(start);
CREATE INDEX IF NOT EXISTS events_camera_label ON events(camera, label);
CREATE INDEX IF NOT EXISTS events_cluster ON events(cluster_id);
CREATE TABLE IF NOT EXISTS snapshots (
    event_id INTEGER PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE, jpeg BLOB NOT NULL, bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS processed (path TEXT PRIMARY KEY, mtime REAL NOT NULL, done REAL NOT NULL);
CREATE INDEX IF NOT EXISTS processed_done ON processed(done);
CREATE TABLE IF NOT EXISTS cameras (name TEXT PRIMARY KEY, labels TEXT NOT NULL, first_seen REAL NOT NULL,
    last_seen REAL NOT NULL);
INSERT INTO meta(key, value) VALUES ('schema', '1');
INSERT INTO events VALUES (7, 'front', 'face', 'alice', 3, 100.5, 110.25, 140.25, 0, 2, 0.875, '[1, 2, 3, 4]', 9,
    'a.jpg');
INSERT INTO snapshots VALUES (7, X'FFD8AA', 3);
INSERT INTO processed VALUES ('/nvr/front/a.jpg', 99.5, 100.0);
INSERT INTO cameras VALUES ('front', '["face"]', 1.0, 2.0);
"""


def test_a_log_written_before_the_migrations_opens_and_keeps_its_rows(tmp_path):
    """Logs from before the shared migrations: meta 'schema' = 1, the same tables. They open, keep every row, and
    from then on carry the event log's own key."""
    path = tmp_path / "events.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
    log = EventLog(path)
    (old,) = log.query()
    assert (old.id, old.camera, old.name, old.cluster_id, old.start, old.end, old.max_count, old.score, old.box,
            old.frames, old.source, old.has_snapshot) == (7, "front", "alice", 3, 100.5, 140.25, 2, 0.875,
                                                          (1, 2, 3, 4), 9, "a.jpg", True)
    assert log.snapshot(7) == b"\xff\xd8\xaa" and log.processed("/nvr/front/a.jpg", 99.5)
    assert log.cameras() == {"front": {"face"}}
    assert store(log, start=200.0, jpeg=b"\xff\xd8new").id == 8
    log.close()
    with sqlite3.connect(path) as conn:
        assert dict(conn.execute("SELECT key, value FROM meta")) == {"schema": "1",
                                                                     EVENTS_SCHEMA.key: str(EVENTS_SCHEMA.version)}
    assert [e.id for e in EventLog(path).query()] == [8, 7]  # and opens again as it is now


def test_a_reader_follows_the_log_by_id(log):
    assert log.newest_id() == 0 and log.following(0) == []
    done = store(log, start=100.0, end=105.0)
    still = store(log, start=110.0)
    newest = log.newest_id()
    assert newest == still.id > done.id
    assert [e.id for e in log.open_events(newest)] == [still.id]
    assert log.open_events(still.id - 1) == []  # only up to the reader's starting point
    later = store(log, start=120.0)
    assert [e.id for e in log.following(newest)] == [later.id]
    assert [e.id for e in log.following(newest, {done.id, still.id})] == [done.id, still.id, later.id]
    followed = log.following(newest, [still.id])[0]
    assert (followed.box, followed.end, followed.count) == ((1.0, 2.0, 3.0, 4.0), None, 1)
