"""PostgreSQL under Vigil's stores (the face gallery, the event log): psycopg 3 with a connection pool, behind the
sqlite3-style calls their SQL makes (`execute` with `?` placeholders, `fetchone`, `fetchall`, `rowcount`), so one
set of statements serves both databases.

A store opens with `open_pool`: its migrations run first on a connection of their own under a session advisory lock
(one lock for every store: stores sharing a database schema share its `meta` table), then the pool opens. Writers
serialise on a transaction-scoped advisory lock, one key per store (`locked_transaction`), as SQLite's BEGIN
IMMEDIATE makes them queue; a killed writer's transaction is rolled back whole. Messages name the server without
the password.

Needs the `scale` extra (psycopg[binary], psycopg-pool); imported only when a postgresql:// URL is configured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from vigil.db.sql_schema import Schema, plain_text
from vigil.errors import ConfigError, ModelIntegrityError, StoreUnavailable

MIGRATE_LOCK = 0x56494732  # "VIG2": one migration at a time per database, whichever store runs it
POOL_SIZE = 8
CONNECT_TIMEOUT_S = 10
POOL_WAIT_S = 30.0  # for the pool's first connection at start
BORROW_WAIT_S = 4.0  # for a pooled connection on a request: past it the database is as good as gone (503)


class Rows:
    """The part of a DB-API cursor the stores use, over rows already fetched."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int = -1) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)


def _sql(statement: str) -> str:
    return statement.replace("?", "%s")  # the stores' statements carry no literal ? or %


class Connection:
    """One psycopg connection behind the sqlite3-style calls a store makes (`execute`, `executemany`)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Rows:
        plain_text(*params)
        with self.conn.cursor() as cur:
            cur.execute(_sql(statement), tuple(params))
            return Rows(cur.fetchall() if cur.description else [], cur.rowcount)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        plain_text(*(v for r in rows for v in r))
        with self.conn.cursor() as cur:
            cur.executemany(_sql(statement), [tuple(r) for r in rows])


class Pooled:
    """Reads outside a transaction: each statement borrows a pooled connection (autocommit); a database that cannot
    be reached is StoreUnavailable naming `what`."""

    def __init__(self, pool: ConnectionPool, what: str = "the store", lost: Callable[[], None] | None = None) -> None:
        self.pool, self.what, self.lost = pool, what, lost

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Rows:
        with reachable(self.pool.conninfo, self.what, self.lost), self.pool.connection() as conn:
            return Connection(conn).execute(statement, params)


def open_pool(url: str, schema: Schema, what: str, name: str, pool_size: int = POOL_SIZE) -> ConnectionPool:
    """Migrate `schema` (under the migration lock), then open a pool of autocommit connections. A server that cannot
    be reached, or refuses, gives ModelIntegrityError naming `what` ("the event log") and the server, never the
    password; a schema newer than this Vigil's gives the schema's own message."""
    migrate(url, schema, what, name)
    pool = None
    try:
        pool = ConnectionPool(url, min_size=1, max_size=pool_size, kwargs={"autocommit": True}, open=True, name=name,
                              timeout=BORROW_WAIT_S)
        pool.wait(timeout=POOL_WAIT_S)
        return pool
    except (psycopg.Error, TimeoutError) as exc:
        if pool is not None:
            pool.close()
        raise ModelIntegrityError(f"{redacted(url)}: cannot open {what} ({_scrubbed(str(exc), url)})") from None


def migrate(url: str, schema: Schema, what: str, name: str) -> None:
    """Bring the database's schema up to date, under the migration lock: at start, and again whenever a store finds
    its database back after losing it (it may have been dropped and recreated empty)."""
    where = redacted(url)
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                             application_name=f"{name}-migrate") as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))  # released when this session ends
            with conn.transaction():
                schema.migrate(Connection(conn).execute, "postgresql", where)
    except psycopg.Error as exc:
        raise ModelIntegrityError(f"{where}: cannot open {what} ({_scrubbed(str(exc), url)})") from None


@contextmanager
def reachable(url: str, what: str, lost: Callable[[], None] | None = None) -> Iterator[None]:
    """A lost or refused connection (the database dropped, the server gone, no pooled connection in time) as
    StoreUnavailable (503) naming the database, instead of a driver error (500); `lost()` is told first."""
    try:
        yield
    except (psycopg.OperationalError, PoolTimeout) as exc:
        if lost is not None:
            lost()
        raise StoreUnavailable(unreachable(url, what, exc)) from None


def unreachable(url: str, what: str, exc: BaseException) -> str:
    reason = _scrubbed(str(exc), url).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{what}'s database {redacted(url)} cannot be reached ({reason}); retry later"


@contextmanager
def locked_transaction(pool: ConnectionPool, lock: int, what: str = "the store", lost: Callable[[], None] | None = None
                       ) -> Iterator[Connection]:
    """One write transaction holding the store's advisory lock `lock` until it commits or rolls back."""
    with reachable(pool.conninfo, what, lost), pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
        yield Connection(conn)


def redacted(url: str) -> str:
    """The URL for messages: user, host, port and database, never the password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        raise ConfigError("not a valid PostgreSQL URL (postgresql://user@host:port/database)") from None
    user, host, port, dbname = (info.get(k, "") for k in ("user", "host", "port", "dbname"))
    return f"postgresql://{user}@{host}:{port or 5432}/{dbname}"


def _scrubbed(text: str, url: str) -> str:
    password = str(psycopg.conninfo.conninfo_to_dict(url).get("password") or "")
    return text.replace(password, "***") if password else text
