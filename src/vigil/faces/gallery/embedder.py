"""Which embedder a gallery's vectors come from. Vectors of two models live in different spaces (a dlib distance of
0.6 means nothing to SFace), so a gallery records its embedder in `meta` and refuses to be matched or enrolled with
another. A gallery made before the record existed holds dlib vectors (the only embedder then); an empty one takes
whichever embedder comes first.
"""

from __future__ import annotations

from vigil.errors import ConfigError
from vigil.registry.face_catalog import DLIB_RESNET

EMBEDDER_KEY = "gallery_embedder"  # its row in `meta` (PostgreSQL stores sharing a schema share `meta`)
LEGACY_EMBEDDER = DLIB_RESNET  # galleries from before the record


class EmbedderRecord:
    """Mixed into Gallery; uses its `_conn` and `_write`."""

    def embedder(self) -> str | None:
        """The embedder this gallery's vectors come from (None: an empty gallery that has not recorded one)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (EMBEDDER_KEY,)).fetchone()
        if row is not None:
            return str(row[0])
        return LEGACY_EMBEDDER if self._holds_vectors(self._conn) else None

    def bind_embedder(self, name: str, where: str = "the face gallery ([faces] gallery)") -> None:
        """Record `name` as this gallery's embedder, or raise ConfigError when its vectors come from another."""
        with self._write() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (EMBEDDER_KEY,)).fetchone()
            holds = self._holds_vectors(conn)
            recorded = str(row[0]) if row is not None else (LEGACY_EMBEDDER if holds else None)
            if recorded is not None and recorded != name and holds:
                raise ConfigError(
                    f"{where} was enrolled with the face embedder {recorded!r}, and [faces] embedder is {name!r}: "
                    "their embeddings cannot be compared. Set [faces] embedder = "
                    f"\"{recorded}\", or point [faces] gallery at a new file and enrol again with {name!r}.")
            if recorded != name:
                conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
                             "excluded.value", (EMBEDDER_KEY, name))

    @staticmethod
    def _holds_vectors(conn) -> bool:
        return any(conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None
                   for table in ("samples", "feedback", "strangers"))
