"""The face gallery on PostgreSQL (`[faces] gallery = "postgresql://…"`), shared by every process and node.

The same tables and queries as the SQLite gallery (schema.py is one definition for both); embeddings are
real[]. The connection pool, the translation of the SQLite statements and the locks are vigil.db.postgres_db's.
Writers serialise on the gallery's transaction-scoped advisory lock, so enrolments queue exactly as SQLite's
BEGIN IMMEDIATE makes them (the same file from two writers counts once; a killed writer's transaction is
rolled back whole). Migrations run at start under a session advisory lock.

Each process keeps its match matrix in memory. Triggers NOTIFY on every change to people, samples or
feedback; a listener thread (its own connection, reconnecting with back-off) bumps a version on each
notification, and the matrix is reloaded when the version moved. Sightings have no trigger and do not move the
version, even locally: filing one after every recognised face must not reload the matrix each time. There is
no polling: a process that misses its connection assumes it missed notifications and reloads once reconnected.

The listener is also how a gallery notices its database going away (dropped, its connections terminated, the server
stopped): from then on every gallery call answers StoreUnavailable (503, naming the database) at once, without
waiting on the pool, and the server's /ready is 503. The listener retries every RETRY_MAX_S at most; once the database
is back it reruns the migrations (it may have been recreated empty), checks the pooled connections, and the gallery
serves again, all without a restart.

Needs the `scale` extra (psycopg[binary], psycopg-pool); imported only when a postgresql:// URL is configured.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg

from vigil.db.postgres_db import (
    CONNECT_TIMEOUT_S,
    POOL_SIZE,
    Connection,
    Pooled,
    locked_transaction,
    migrate,
    open_pool,
    reachable,
    redacted,
    unreachable,
)
from vigil.errors import ModelIntegrityError, StoreUnavailable
from vigil.faces.gallery.gallery import Gallery, GalleryMatrix
from vigil.faces.gallery.schema import GALLERY_SCHEMA, NOTIFY_CHANNEL, to_blob

log = logging.getLogger(__name__)

WRITE_LOCK = 0x56494731  # "VIG1": one gallery writer at a time, per database
WHAT = "the face gallery"
RETRY_MAX_S = 2.0  # the listener's longest wait between reconnection attempts


class PostgresGallery(Gallery):
    def __init__(self, url: str, pool_size: int = POOL_SIZE, listen: bool = True) -> None:
        self.url = url
        self.path = redacted(url)  # for messages; never the password
        self._local = threading.local()  # the open write transaction of this thread, if any
        self._pool = open_pool(url, GALLERY_SCHEMA, WHAT, "vigil-gallery", pool_size)
        self._schema = str(Pooled(self._pool, WHAT).execute("SELECT current_schema()").fetchone()[0])
        self.unavailable: str | None = None  # why the database cannot be reached, while the listener finds it gone
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

    # --- connections: the Gallery's sqlite3-style calls, on the pool ---------------------------------------
    @property
    def _conn(self) -> Any:
        tx = getattr(self._local, "tx", None)
        if tx is not None:
            return tx
        self._check_up()
        return Pooled(self._pool, WHAT)

    def _check_up(self) -> None:
        if self.unavailable is not None:
            raise StoreUnavailable(self.unavailable)

    @contextmanager
    def _write(self, matrix: bool = True) -> Iterator[Any]:
        """One write transaction under the gallery's lock. Unless `matrix` is False (sightings: they change no
        person, sample or feedback, and their table has no NOTIFY trigger), the match matrix reloads after it."""
        open_tx = getattr(self._local, "tx", None)
        if open_tx is not None:  # nested (a write calling a write helper): the same transaction
            yield open_tx
            return
        self._check_up()
        with locked_transaction(self._pool, WRITE_LOCK, WHAT) as tx:
            self._local.tx = tx
            try:
                yield self._local.tx
            finally:
                self._local.tx = None
        if matrix:
            self._bump()  # our own write is visible at once, without waiting for our own NOTIFY

    def close(self) -> None:
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.close()

    def _new_cluster(self, c: Any, created: float, last_seen: float, sightings: int) -> int:
        """The identity column never hands out an id twice."""
        return int(c.execute("INSERT INTO clusters(created, last_seen, sightings) VALUES (?, ?, ?) RETURNING id",
                             (created, last_seen, sightings)).fetchone()[0])

    def _vec(self, vector: np.ndarray) -> list[float]:
        return np.frombuffer(to_blob(vector), "<f4").tolist()  # the same checks as SQLite's blobs

    # --- the match matrix, refreshed by NOTIFY --------------------------------------------------------------
    def matrix(self) -> GalleryMatrix:
        self._check_up()  # a matrix kept from before the database went away may no longer be the gallery
        with self._lock:
            version = self._version
            if self._matrix is not None and self._matrix[0] == version:
                return self._matrix[1]
            matrix = self._read_matrix()
            self._matrix, self.reloads = (version, matrix), self.reloads + 1
            return matrix

    def _read_matrix(self) -> GalleryMatrix:
        with reachable(self.url, WHAT), self._pool.connection() as conn, conn.transaction():  # one snapshot
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            self._local.tx = Connection(conn)
            try:
                return super()._read_matrix()
            finally:
                self._local.tx = None

    def _bump(self) -> None:
        with self._version_lock:
            self._version += 1

    def _listen(self) -> None:
        delay, lost = 0.25, False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                     application_name="vigil-gallery-listener") as conn:
                    if lost:  # the database may have been recreated empty: migrate before serving from it again
                        migrate(self.url, GALLERY_SCHEMA, WHAT, "vigil-gallery")
                        self._pool.check()  # drop pooled connections to the database that went away
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self._listening(conn.info.backend_pid)
                    delay, lost = 0.25, False
                    self._hear(conn)
            except (psycopg.Error, ModelIntegrityError) as exc:
                self.listening.clear()
                why = unreachable(self.url, WHAT, exc)
                if why != self.unavailable:  # once per change, not on every retry while the database is away
                    log.warning("%s; the listener retries every %.1f s at most", why, RETRY_MAX_S)
                self.unavailable, lost = why, True
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    def _listening(self, pid: int) -> None:
        self.listener_pid = pid
        self.unavailable = None
        self.listening.set()
        self._bump()  # anything may have changed while we were not listening

    def _hear(self, conn: psycopg.Connection) -> None:
        while not self._stop.is_set():
            for note in conn.notifies(timeout=0.5):
                if note.payload == self._schema:
                    self.notifications += 1
                    self._bump()
            if conn.broken or conn.closed:
                raise psycopg.OperationalError("the listening connection was lost")
