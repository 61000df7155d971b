"""Which gallery a `[faces] gallery` setting means: a postgresql:// URL, or an SQLite file (the default)."""

from __future__ import annotations

from pathlib import Path

from vigil.db.sql_schema import is_url
from vigil.errors import ConfigError
from vigil.faces.gallery.gallery import Gallery


def open_gallery(location: str | Path) -> Gallery:
    """The gallery at `location`; PostgreSQL needs the `scale` extra, imported only here."""
    if not is_url(location):
        return Gallery(Path(location))
    try:
        from vigil.faces.gallery.postgres import PostgresGallery
    except ImportError as exc:
        raise ConfigError(f"a PostgreSQL gallery needs the scale extra (pip install 'vigil[scale]'): {exc}") from None
    return PostgresGallery(str(location))
