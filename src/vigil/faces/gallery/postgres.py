"""The face gallery on PostgreSQL (`[faces] gallery = "postgresql://…"`), shared by every process and node.

The same tables and queries as the SQLite gallery (schema.py is one definition for both); embeddings are
real[]. psycopg 3 with a connection pool; statements are the SQLite ones with `?` placeholders, translated
here. Writers serialise on one transaction-scoped advisory lock, so enrolments queue exactly as SQLite's
BEGIN IMMEDIATE makes them (the same file from two writers counts once; a killed writer's transaction is
rolled back whole). Migrations run at start under a session advisory lock.

Each process keeps its match matrix in memory. Triggers NOTIFY on every change to people, samples or
feedback; a listener thread (its own connection, reconnecting with back-off) bumps a version on each
notification, and the matrix is reloaded when the version moved. There is no polling: a process that
misses its connection assumes it missed notifications and reloads once reconnected.

Needs the `scale` extra (psycopg[binary], psycopg-pool); imported only when a postgresql:// URL is configured.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from psycopg_pool import ConnectionPool

from vigil.errors import ModelIntegrityError
from vigil.faces.gallery.gallery import Gallery, GalleryMatrix
from vigil.faces.gallery.schema import NOTIFY_CHANNEL, migrate, to_blob

log = logging.getLogger(__name__)

WRITE_LOCK = 0x56494731  # "VIG1": one writer at a time, per database
MIGRATE_LOCK = 0x56494732
POOL_SIZE = 8


class _Rows:
    """The part of a DB-API cursor the gallery uses, over rows already fetched."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)


def _sql(statement: str) -> str:
    return statement.replace("?", "%s")  # the gallery's statements carry no literal ? or %


class _Connection:
    """One psycopg connection behind the sqlite3-style calls the gallery makes (`execute`, `executemany`)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def execute(self, statement: str, params: Sequence[Any] = ()) -> _Rows:
        with self.conn.cursor() as cur:
            cur.execute(_sql(statement), tuple(params))
            return _Rows(cur.fetchall() if cur.description else [])

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_sql(statement), [tuple(r) for r in rows])


class _Pooled:
    """Reads outside a transaction: each statement borrows a pooled connection (autocommit)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def execute(self, statement: str, params: Sequence[Any] = ()) -> _Rows:
        with self.pool.connection() as conn:
            return _Connection(conn).execute(statement, params)


class PostgresGallery(Gallery):
    def __init__(self, url: str, pool_size: int = POOL_SIZE, listen: bool = True) -> None:
        self.url = url
        self.path = _redacted(url)  # for messages; never the password
        self._local = threading.local()  # the open write transaction of this thread, if any
        try:
            self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, kwargs={"autocommit": True},
                                        open=True, name="vigil-gallery")
            self._pool.wait(timeout=30)
            self._schema = self._migrate()
        except (psycopg.Error, TimeoutError) as exc:
            self.close()
            raise ModelIntegrityError(f"{self.path}: cannot open the face gallery ({exc})") from None
        self._version = 0  # moves on every NOTIFY and every local write
        self.notifications = 0  # NOTIFYs received for this gallery (tests prove refreshes came this way)
        self.reloads = 0
        self._matrix: tuple[int, GalleryMatrix] | None = None
        self._lock = threading.Lock()  # one matrix reload at a time
        self._version_lock = threading.Lock()
        self._stop = threading.Event()
        self.listening = threading.Event()  # set once LISTEN is in place (tests wait for it)
        self.listener_pid = 0  # the listening connection's server process
        self._listener: threading.Thread | None = None
        if listen:
            self._listener = threading.Thread(target=self._listen, name="vigil-gallery-listen", daemon=True)
            self._listener.start()

    def _migrate(self) -> str:
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
            try:
                with conn.transaction():
                    migrate(_Connection(conn).execute, "postgresql", self.path)
                return str(conn.execute("SELECT current_schema()").fetchone()[0])
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))

    # --- connections: the Gallery's sqlite3-style calls, on the pool ---------------------------------------
    @property
    def _conn(self) -> Any:
        return getattr(self._local, "tx", None) or _Pooled(self._pool)

    @contextmanager
    def _write(self) -> Iterator[Any]:
        open_tx = getattr(self._local, "tx", None)
        if open_tx is not None:  # nested (a write calling a write helper): the same transaction
            yield open_tx
            return
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            self._local.tx = _Connection(conn)
            try:
                yield self._local.tx
            finally:
                self._local.tx = None
        self._bump()  # our own write is visible at once, without waiting for our own NOTIFY

    def close(self) -> None:
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.close()

    def _vec(self, vector: np.ndarray) -> list[float]:
        return np.frombuffer(to_blob(vector), "<f4").tolist()  # the same checks as SQLite's blobs

    # --- the match matrix, refreshed by NOTIFY --------------------------------------------------------------
    def matrix(self) -> GalleryMatrix:
        with self._lock:
            version = self._version
            if self._matrix is not None and self._matrix[0] == version:
                return self._matrix[1]
            matrix = self._read_matrix()
            self._matrix, self.reloads = (version, matrix), self.reloads + 1
            return matrix

    def _read_matrix(self) -> GalleryMatrix:
        with self._pool.connection() as conn, conn.transaction():  # one snapshot: samples, names, negatives agree
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            self._local.tx = _Connection(conn)
            try:
                return super()._read_matrix()
            finally:
                self._local.tx = None

    def _bump(self) -> None:
        with self._version_lock:
            self._version += 1

    def _listen(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, application_name="vigil-gallery-listener") as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listener_pid = conn.info.backend_pid
                    self.listening.set()
                    self._bump()  # anything may have changed while we were not listening
                    delay = 0.5
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            if note.payload == self._schema:
                                self.notifications += 1
                                self._bump()
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("gallery listener lost %s (%s); reconnecting in %.1f s", self.path, exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)


def _redacted(url: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    user, host, port, name = (info.get(k, "") for k in ("user", "host", "port", "dbname"))
    return f"postgresql://{user}@{host}:{port or 5432}/{name}"

