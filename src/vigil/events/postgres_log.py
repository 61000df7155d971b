"""The event log on PostgreSQL (`[events] database = "postgresql://…"`, or the gallery's URL when unset): every
process and node writes the same log.

The same tables and statements as the SQLite log (schema.py is one definition for both; log.py writes its SQL in
forms valid on both). Writers serialise on the event log's own transaction-scoped advisory lock (not the
gallery's, so enrolments and events never wait on each other); reads borrow pooled connections. Migrations run at
start under the shared migration lock (vigil.db.postgres_db).

Needs the `scale` extra; imported only when a postgresql:// URL is configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from vigil.db.postgres_db import POOL_SIZE, Pooled, locked_transaction, open_pool, redacted
from vigil.events.log import EventLog
from vigil.events.schema import EVENTS_SCHEMA

WRITE_LOCK = 0x56494733  # "VIG3": one event log writer at a time, per database


class PostgresEventLog(EventLog):
    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.path = redacted(url)  # for messages; never the password
        self._pool = open_pool(url, EVENTS_SCHEMA, "the event log", "vigil-events", pool_size)

    @property
    def _conn(self) -> Any:
        return Pooled(self._pool)

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with locked_transaction(self._pool, WRITE_LOCK) as tx:
            yield tx

    def close(self) -> None:
        self._pool.close()
