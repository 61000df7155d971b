"""The event log: one SQLite file in WAL mode, mode 0600 (it holds who came and went), or tables on PostgreSQL
(postgres_log.py; the same statements, written in forms valid on both).

Events, their annotated snapshots, the files already processed (path and mtime, so a restart skips them) and the
cameras seen with their labels (so Home Assistant discovery is published once and removed when a camera goes).
Writers take the lock up front (BEGIN IMMEDIATE), as the gallery does, so `vigil watch` and `vigil serve` can
share the file. An existing file that is not a readable event log is refused and left untouched.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Collection, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vigil.db.sql_schema import plain_text
from vigil.db.sqlite_file import ThreadConnections, create_private, migrate_file, reclaim, write_transaction
from vigil.errors import ModelIntegrityError, NotFound
from vigil.events.schema import EVENTS_SCHEMA
from vigil.results import Event, EventChange

BUSY_TIMEOUT_MS = 30_000
FRAMES_KEPT = 50  # frames listed per event: its first ones (a car parked all day is not 80,000 rows)
_COLUMNS = ("id, camera, label, name, cluster_id, start, last_seen, end_time, count, max_count, score, box, frames, "
            "source, EXISTS(SELECT 1 FROM snapshots s WHERE s.event_id = events.id), track_id")


@dataclass(frozen=True)
class EventQuery:
    camera: str | None = None
    label: str | None = None
    name: str | None = None
    since: float | None = None  # events still open at or after this time
    until: float | None = None  # events that started at or before this time
    limit: int = 100


class EventLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        existed = create_private(self.path)
        self._connections = ThreadConnections(self._connect)
        self._check(existed)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL: never corrupt; a power cut may lose the last frames' rows
        return conn

    @property
    def _conn(self) -> Any:  # sqlite3.Connection, or PostgreSQL's stand-in for one
        return self._connections.get()

    def _check(self, existed: bool) -> None:
        try:
            migrate_file(self._conn, EVENTS_SCHEMA, self.path, existed)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise ModelIntegrityError(f"{self.path}: the event log is unreadable ({exc}); it was left untouched: "
                                      "move it away to start an empty log") from None
        except ModelIntegrityError:
            self.close()
            raise
        os.chmod(self.path, 0o600)

    def _write(self) -> AbstractContextManager[Any]:
        return write_transaction(self._conn)

    def close(self) -> None:
        self._connections.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- events --------------------------------------------------------------------------------------------------
    def save(self, changes: Iterable[EventChange], snapshots: dict[int, bytes] | None = None,
             processed: tuple[str, float] | None = None, shown: Iterable[Event] = ()) -> None:
        """Store changes in one transaction; a new event gets its id here. `snapshots` maps id(event) → JPEG;
        `processed` (path, mtime) marks the frame done in the same transaction, and lists it among the frames of
        the `shown` events (those it showed, new or not)."""
        snapshots = snapshots or {}
        with self._write() as c:
            if processed is not None:
                c.execute("INSERT INTO processed(path, mtime, done) VALUES (?, ?, ?) ON CONFLICT (path) "
                          "DO UPDATE SET mtime = excluded.mtime, done = excluded.done", (*processed, time.time()))
            self._save_changes(c, changes, snapshots)
            if processed is not None:
                for e in shown:
                    if e.id and e.frames <= FRAMES_KEPT:
                        c.execute("INSERT INTO event_frames(event_id, time, path, count, score) VALUES (?, ?, ?, ?, ?)",
                                  (e.id, e.last_seen, processed[0], e.count, e.score))

    @staticmethod
    def _save_changes(c: Any, changes: Iterable[EventChange], snapshots: dict[int, bytes]) -> None:
        for change in changes:
            e = change.event
            row = (e.count, e.max_count, e.score, json.dumps(list(e.box)), e.frames, e.source, e.last_seen,
                   e.end, e.name)
            if change.type == "new" and not e.id:
                e.id = int(c.execute(
                    "INSERT INTO events(count, max_count, score, box, frames, source, last_seen, end_time, name, "
                    "camera, label, cluster_id, start, track_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "RETURNING id", (*row, e.camera, e.label, e.cluster_id, e.start, e.track_id)
                ).fetchall()[0][0])  # all: the statement ends
            else:
                c.execute("UPDATE events SET count=?, max_count=?, score=?, box=?, frames=?, source=?, "
                          "last_seen=?, end_time=?, name=? WHERE id=?", (*row, e.id))
            jpeg = snapshots.get(id(e))
            if jpeg is not None:
                c.execute("INSERT INTO snapshots(event_id, jpeg, bytes) VALUES (?, ?, ?) ON CONFLICT (event_id) "
                          "DO UPDATE SET jpeg = excluded.jpeg, bytes = excluded.bytes", (e.id, jpeg, len(jpeg)))
                e.has_snapshot = True

    def get(self, event_id: int) -> Event:
        row = self._conn.execute(f"SELECT {_COLUMNS} FROM events WHERE id = ?", (event_id,)).fetchone()
        if row is None:
            raise NotFound(f"no event {event_id}")
        return _event(row)

    def query(self, q: EventQuery = EventQuery()) -> list[Event]:
        """Newest first."""
        plain_text(q.camera, q.label, q.name)
        where, args = [], []
        for column, value in (("camera", q.camera), ("label", q.label), ("name", q.name)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if q.since is not None:
            where.append("COALESCE(end_time, last_seen) >= ?")
            args.append(q.since)
        if q.until is not None:
            where.append("start <= ?")
            args.append(q.until)
        sql = f"SELECT {_COLUMNS} FROM events {'WHERE ' + ' AND '.join(where) if where else ''} " \
              "ORDER BY start DESC, id DESC LIMIT ?"
        return [_event(r) for r in self._conn.execute(sql, (*args, q.limit)).fetchall()]

    def newest_id(self) -> int:
        """The highest event id so far, 0 for an empty log: where a reader of only what comes next starts."""
        return int(self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])

    def open_events(self, up_to: int) -> list[Event]:
        """The events still open with an id up to `up_to`, oldest first."""
        return [_event(r) for r in self._conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE end_time IS NULL AND id <= ? ORDER BY id", (up_to,)).fetchall()]

    def following(self, last_id: int, ids: Collection[int] = ()) -> list[Event]:
        """Events with an id above `last_id`, and those in `ids`, oldest first: one look, by primary key, for a
        reader that follows the log (events/log_tail.py). Ids only grow in commit order, since writers take the
        log's lock before they insert."""
        where = f"id > ? OR id IN ({', '.join('?' * len(ids))})" if ids else "id > ?"
        return [_event(r) for r in self._conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE {where} ORDER BY id", (last_id, *ids)).fetchall()]

    def frames(self, event_id: int) -> list[tuple[float, str, int, float]]:
        """The frames an event was seen in, oldest first: (time, path, count, score)."""
        self.get(event_id)  # NotFound for an unknown event
        return [(r[0], r[1], r[2], r[3]) for r in self._conn.execute(
            "SELECT time, path, count, score FROM event_frames WHERE event_id = ? ORDER BY time, path",
            (event_id,)).fetchall()]

    def snapshot(self, event_id: int) -> bytes:
        row = self._conn.execute("SELECT jpeg FROM snapshots WHERE event_id = ?", (event_id,)).fetchone()
        if row is None:
            raise NotFound(f"event {event_id} has no snapshot")
        return bytes(row[0])

    def end_open(self, now: float) -> int:
        """Close events a stopped process left open (at their last sighting)."""
        with self._write() as c:
            return c.execute("UPDATE events SET end_time = last_seen, count = 0 WHERE end_time IS NULL").rowcount

    def relabel_cluster(self, cluster_id: int, name: str) -> int:
        """A stranger cluster was named: its past events carry the name from now on."""
        with self._write() as c:
            return c.execute("UPDATE events SET name = ? WHERE cluster_id = ? AND label = 'face'",
                             (name, cluster_id)).rowcount

    def relabel_absorbed(self, report: Any) -> int:
        """An enrolment absorbed stranger clusters (vigil.faces.enroll.EnrollReport.absorbed): they were this person,
        so their past face events carry the name from now on. Every enrolment path calls this: `vigil faces add` and
        `enroll`, /v2/gallery/{name}, the page's /v2/ui/enroll/{name} and /v1 register."""
        return sum(self.relabel_cluster(cluster, report.name) for cluster in report.absorbed)

    def forget_face(self, name: str | None, cluster_id: int | None) -> int:
        """`vigil faces forget`: delete the face events (and their snapshots) of one person or stranger cluster."""
        with self._write() as c:
            if cluster_id is not None:
                return c.execute("DELETE FROM events WHERE label = 'face' AND cluster_id = ?", (cluster_id,)).rowcount
            return c.execute("DELETE FROM events WHERE label = 'face' AND name = ? AND cluster_id IS NULL",
                             (name,)).rowcount

    def prune(self, days: float, megabytes: float, now: float | None = None) -> int:
        """Delete events older than `days`, then the oldest while snapshots exceed `megabytes`; returns deleted."""
        now = time.time() if now is None else now
        with self._write() as c:
            deleted = c.execute("DELETE FROM events WHERE end_time IS NOT NULL AND end_time < ?",
                                (now - days * 86400,)).rowcount
            c.execute("DELETE FROM processed WHERE done < ?", (now - days * 86400,))
            budget = int(megabytes * 1024 * 1024)
            total = c.execute("SELECT COALESCE(SUM(bytes), 0) FROM snapshots").fetchone()[0]
            for event_id, size in c.execute("SELECT s.event_id, s.bytes FROM snapshots s JOIN events e "
                                            "ON e.id = s.event_id ORDER BY e.start, e.id").fetchall():
                if total <= budget:
                    break
                deleted += c.execute("DELETE FROM events WHERE id = ?", (event_id,)).rowcount
                total -= size
        if deleted:
            reclaim(self._conn)
        return deleted

    # --- files and cameras ---------------------------------------------------------------------------------------
    def processed(self, path: str, mtime: float) -> bool:
        row = self._conn.execute("SELECT mtime FROM processed WHERE path = ?", (path,)).fetchone()
        return row is not None and row[0] == mtime

    def mark_processed(self, path: str, mtime: float) -> None:
        self.save([], processed=(path, mtime))

    def newest_processed(self, under: str) -> float | None:
        """The newest mtime processed below a folder: files written later arrived while Vigil was down."""
        row = self._conn.execute("SELECT MAX(mtime) FROM processed WHERE path LIKE ? ESCAPE '\\'",
                                 (_like_prefix(under),)).fetchone()
        return row[0]

    def cameras(self) -> dict[str, set[str]]:
        return {r[0]: set(json.loads(r[1])) for r in self._conn.execute("SELECT name, labels FROM cameras")}

    def people(self) -> set[str]:
        """The names of known people with face events here (each got a Home Assistant sensor)."""
        rows = self._conn.execute("SELECT DISTINCT name FROM events WHERE label = 'face' AND cluster_id IS NULL "
                                  "AND name IS NOT NULL").fetchall()
        return {r[0] for r in rows}

    def note_camera(self, camera: str, labels: set[str]) -> None:
        now = time.time()
        with self._write() as c:
            c.execute("INSERT INTO cameras(name, labels, first_seen, last_seen) VALUES (?, ?, ?, ?) ON CONFLICT(name) "
                      "DO UPDATE SET labels = excluded.labels, last_seen = excluded.last_seen",
                      (camera, json.dumps(sorted(labels)), now, now))

    def forget_camera(self, camera: str) -> None:
        with self._write() as c:
            c.execute("DELETE FROM cameras WHERE name = ?", (camera,))


def _like_prefix(folder: str) -> str:
    escaped = folder.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"


def _event(row: tuple) -> Event:
    (event_id, camera, label, name, cluster_id, start, last_seen, end, count, max_count, score, box, frames, source,
     snapshot, track_id) = row
    return Event(camera, label, start, score, tuple(json.loads(box)), count, name, cluster_id, event_id, last_seen,
                 end, max_count, frames, source, bool(snapshot), track_id)
