"""The gallery's schema, one definition for SQLite and PostgreSQL, as versioned migrations (vigil.db.sql_schema).

Besides the shared type placeholders, `{vector}` is a 128-float embedding (SQLite: 512 little-endian float32 bytes;
PostgreSQL: real[]). The version is kept in `meta` under 'schema' (the key galleries have always used).
"""

from __future__ import annotations

import re

import numpy as np

from vigil.db.sql_schema import Migration, Schema
from vigil.errors import BadInput
from vigil.registry.face_catalog import EMBED_DIM

EMBED_BYTES = EMBED_DIM * 4  # SQLite: little-endian float32

_VECTOR = {"sqlite": {"vector": f"BLOB NOT NULL CHECK (length(embedding) = {EMBED_BYTES})"},
           "postgresql": {"vector": f"real[] NOT NULL CHECK (cardinality(embedding) = {EMBED_DIM})"}}

NOTIFY_CHANNEL = "vigil_gallery"  # payload: the schema that changed, so galleries sharing a database stay apart


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, (
        "CREATE TABLE IF NOT EXISTS people (id {id}, name TEXT NOT NULL UNIQUE, created {time} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS samples (id {id}, "
        "person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE, embedding {vector}, "
        "file_hash TEXT, source TEXT NOT NULL DEFAULT '', thumbnail {bytes}, created {time} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS samples_person ON samples(person_id)",
        "CREATE TABLE IF NOT EXISTS files (name TEXT NOT NULL, file_hash TEXT NOT NULL, "
        "source TEXT NOT NULL DEFAULT '', faces INTEGER NOT NULL, created {time} NOT NULL, "
        "PRIMARY KEY (name, file_hash))",
        "CREATE TABLE IF NOT EXISTS feedback (id {id}, "
        "person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE, embedding {vector}, "
        "note TEXT NOT NULL DEFAULT '', created {time} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS clusters (id {id}, created {time} NOT NULL, last_seen {time} NOT NULL, "
        "sightings INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE IF NOT EXISTS strangers (id {id}, "
        "cluster_id INTEGER NOT NULL REFERENCES clusters(id) ON DELETE CASCADE, embedding {vector}, "
        "thumbnail {bytes}, source TEXT NOT NULL DEFAULT '', created {time} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS strangers_cluster ON strangers(cluster_id)",
    )),
    # every process keeps a match matrix in memory: PostgreSQL tells them all when people or samples change
    Migration(2, (), only={"postgresql": (
        "CREATE OR REPLACE FUNCTION vigil_gallery_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"PERFORM pg_notify('{NOTIFY_CHANNEL}', TG_TABLE_SCHEMA); RETURN NULL; END $$",
        *(f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE ON {table} "
          "FOR EACH STATEMENT EXECUTE FUNCTION vigil_gallery_changed()" for table in ("people", "samples", "feedback")),
    )}),
    # sightings (vigil.faces.sightings): every recognised or stranger face a watched camera showed, bounded by
    # [events] retention and [faces] max_sightings; exactly one of person_id / cluster_id, both cascading
    Migration(5, (
        "CREATE TABLE IF NOT EXISTS sightings (id {id}, seen {time} NOT NULL, camera TEXT NOT NULL, "
        "event_id {int64}, track_id {int64}, "
        "person_id {int64} REFERENCES people(id) ON DELETE CASCADE, "
        "cluster_id {int64} REFERENCES clusters(id) ON DELETE CASCADE, "
        "embedding {vector}, crop {bytes}, quality {float} NOT NULL DEFAULT 0, "
        "CHECK ((person_id IS NULL) <> (cluster_id IS NULL)))",
        "CREATE INDEX IF NOT EXISTS sightings_seen ON sightings(seen)",
        "CREATE INDEX IF NOT EXISTS sightings_person ON sightings(person_id, seen)",
        "CREATE INDEX IF NOT EXISTS sightings_cluster ON sightings(cluster_id, seen)",
    )),
)

GALLERY_SCHEMA = Schema(MIGRATIONS, key="schema", noun="gallery", types=_VECTOR)
SCHEMA_VERSION = GALLERY_SCHEMA.version


def to_blob(vector: np.ndarray) -> bytes:
    v = np.asarray(vector, np.float32).reshape(-1)
    if v.shape != (EMBED_DIM,) or not np.isfinite(v).all():
        raise BadInput(f"an embedding must be {EMBED_DIM} finite floats, got shape {v.shape}")
    return v.astype("<f4").tobytes()


def to_vectors(blobs: list[bytes] | list[list[float]]) -> np.ndarray:
    """Stored embeddings (SQLite bytes, or PostgreSQL real[] lists) as one (n, EMBED_DIM) float32 array."""
    if not blobs:
        return np.zeros((0, EMBED_DIM), np.float32)
    if not isinstance(blobs[0], bytes | bytearray | memoryview):
        return np.asarray(blobs, np.float32).reshape(-1, EMBED_DIM)
    return np.frombuffer(b"".join(blobs), "<f4").reshape(-1, EMBED_DIM).astype(np.float32)


# A new person's name: letters (any script), digits, space . ' - _, starting with a letter or digit, at most 200.
# Every front end declares and checks this one rule (/v1 userid, /v2 and page paths and bodies, the CLI, strangers).
NAME_PATTERN = r"^[\w][\w .'-]{0,199}$"
# A name already in a gallery, as routes that find a person take it (delete, rename): galleries written before the
# rule may hold names outside it, and they stay manageable; a URL path segment cannot carry a slash, nor be "." or ".."
# (clients resolve those away).
STORED_NAME_PATTERN = r"^(?:[^/\x00.]|\.[^/\x00.]|\.\.[^/\x00])[^/\x00]{0,199}$"


def person_name(name: str) -> str:
    """The one place a new person's name is checked and normalised: every gallery method that creates or renames a
    person passes it through here first, so " Bob " is stored and looked up as "Bob"."""
    name = name.strip() if isinstance(name, str) else ""
    if not re.fullmatch(NAME_PATTERN, name):
        raise BadInput(f"invalid person name {name[:210]!r}: 1-200 letters, digits, spaces or . ' - _, starting "
                       "with a letter or digit")
    return name
