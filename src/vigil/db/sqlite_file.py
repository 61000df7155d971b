"""The SQLite files Vigil keeps (the face gallery, the event log): created private, checked and migrated on opening,
one connection per thread, and write transactions that take the lock at BEGIN so concurrent writers queue instead of
deadlocking. Deleting gives the space back: pages freed by a delete return to the file system at `reclaim`
(auto_vacuum=INCREMENTAL), and the WAL is cut back to JOURNAL_LIMIT_BYTES once checkpointed."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from vigil.db.sql_schema import Schema

JOURNAL_LIMIT_BYTES = 4 * 1024 * 1024  # PRAGMA journal_size_limit: the WAL left after a checkpoint


def create_private(path: Path) -> bool:
    """Make the folder and, if missing, the file with mode 0600 (SQLite gives its -wal/-shm files the database's
    mode, so they are private from birth too); True when the file existed already."""
    existed = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not existed:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
    return existed


class ThreadConnections:
    """One connection per thread, opened on first use by `connect`."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            conn.execute(f"PRAGMA journal_size_limit={JOURNAL_LIMIT_BYTES}")
        return conn

    def close(self) -> None:
        """Close this thread's connection, if it has one."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on an autocommit (isolation_level=None) connection."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate_file(conn: sqlite3.Connection, schema: Schema, path: Path, existed: bool, verify: bool = False) -> None:
    """Bring the store at `path` up to `schema`'s version, in WAL mode. A file that existed must be one of Vigil's
    (a `meta` table, unless it is empty) and, with `verify`, pass `PRAGMA quick_check`. Raises sqlite3.DatabaseError
    for a file that is not such a store, ModelIntegrityError for a schema newer than this Vigil's."""
    if existed:
        if verify:
            status = conn.execute("PRAGMA quick_check").fetchone()[0]
            if status != "ok":
                raise sqlite3.DatabaseError(status)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise sqlite3.DatabaseError(f"an SQLite file, but not a Vigil {schema.noun}")
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # not INCREMENTAL yet: set before the first table,
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # or, for an older file, by one VACUUM (once)
        if existed:
            conn.execute("VACUUM")
    conn.execute("PRAGMA journal_mode=WAL")
    with write_transaction(conn) as c:
        schema.migrate(c.execute, "sqlite", str(path))


def reclaim(conn: object) -> None:
    """After deleting: free pages back to the file system, then a checkpoint that truncates the WAL (best effort: a
    reader still open keeps it). Nothing to do for a PostgreSQL store's stand-in connection (autovacuum)."""
    if isinstance(conn, sqlite3.Connection):
        conn.executescript("PRAGMA incremental_vacuum;")  # run to the end: execute() would free one page
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
