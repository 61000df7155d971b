"""Which event log a location means (VigilConfig.events_location): a postgresql:// URL, or an SQLite file."""

from __future__ import annotations

from pathlib import Path

from vigil.db.sql_schema import is_url
from vigil.errors import ConfigError
from vigil.events.log import EventLog


def open_event_log(location: str | Path) -> EventLog:
    """The event log at `location`; PostgreSQL needs the `scale` extra, imported only here."""
    if not is_url(location):
        return EventLog(Path(location))
    try:
        from vigil.events.postgres_log import PostgresEventLog
    except ImportError as exc:
        raise ConfigError(f"a PostgreSQL event log needs the scale extra (pip install 'vigil[scale]'): {exc}") from None
    return PostgresEventLog(str(location))


def event_log_exists(location: str | Path) -> bool:
    """Whether there is a log to read: an SQLite file only once written; a database is opened (and migrated)."""
    return is_url(location) or Path(location).exists()
