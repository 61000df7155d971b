"""The event log on PostgreSQL (`[events] database = "postgresql://…"`, or the gallery's URL when unset): every
process and node writes the same log.

The same tables and statements as the SQLite log (schema.py is one definition for both; log.py writes its SQL in
forms valid on both). Writers serialise on the event log's own transaction-scoped advisory lock (not the
gallery's, so enrolments and events never wait on each other); reads borrow pooled connections. Migrations run at
start under the shared migration lock (vigil.db.postgres_db). A database that goes away answers StoreUnavailable (503)
naming it; the first call after that reruns the migrations (it may be back empty) before its statement.

Needs the `scale` extra; imported only when a postgresql:// URL is configured.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from vigil.db.postgres_db import POOL_SIZE, Pooled, locked_transaction, migrate, open_pool, redacted
from vigil.errors import ModelIntegrityError, StoreUnavailable
from vigil.events.log import EventLog
from vigil.events.schema import EVENTS_SCHEMA

WRITE_LOCK = 0x56494733  # "VIG3": one event log writer at a time, per database
WHAT = "the event log"


class PostgresEventLog(EventLog):
    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.path = redacted(url)  # for messages; never the password
        self._pool = open_pool(url, EVENTS_SCHEMA, WHAT, "vigil-events", pool_size)
        self._lost = threading.Event()  # a connection was lost: migrate again before the next statement

    @property
    def _conn(self) -> Any:
        self._found_again()
        return Pooled(self._pool, WHAT, self._lost.set)

    @contextmanager
    def _write(self) -> Iterator[Any]:
        self._found_again()
        with locked_transaction(self._pool, WRITE_LOCK, WHAT, self._lost.set) as tx:
            yield tx

    def _found_again(self) -> None:
        if not self._lost.is_set():
            return
        try:
            migrate(self.url, EVENTS_SCHEMA, WHAT, "vigil-events")
        except ModelIntegrityError as exc:
            raise StoreUnavailable(f"{exc}; retry later") from None
        self._pool.check()  # drop pooled connections to the database that went away
        self._lost.clear()

    def close(self) -> None:
        self._pool.close()
