"""The gallery's SQLite schema (version 1) and how values are stored in it: embeddings as EMBED_DIM (128)
little-endian float32s (512 bytes), person names stripped, 1-200 characters, no slashes."""

from __future__ import annotations

import numpy as np

from vigil.errors import BadInput
from vigil.registry.face_catalog import EMBED_DIM

SCHEMA_VERSION = 1
EMBED_BYTES = EMBED_DIM * 4

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    embedding BLOB NOT NULL CHECK (length(embedding) = {EMBED_BYTES}),
    file_hash TEXT, source TEXT NOT NULL DEFAULT '', thumbnail BLOB, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS samples_person ON samples(person_id);
CREATE TABLE IF NOT EXISTS files (
    name TEXT NOT NULL, file_hash TEXT NOT NULL, source TEXT NOT NULL DEFAULT '', faces INTEGER NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (name, file_hash));
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    embedding BLOB NOT NULL CHECK (length(embedding) = {EMBED_BYTES}), note TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS clusters (
    id INTEGER PRIMARY KEY, created REAL NOT NULL, last_seen REAL NOT NULL, sightings INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS strangers (
    id INTEGER PRIMARY KEY,
    cluster_id INTEGER NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    embedding BLOB NOT NULL CHECK (length(embedding) = {EMBED_BYTES}),
    thumbnail BLOB, source TEXT NOT NULL DEFAULT '', created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS strangers_cluster ON strangers(cluster_id)
"""


def to_blob(vector: np.ndarray) -> bytes:
    v = np.asarray(vector, np.float32).reshape(-1)
    if v.shape != (EMBED_DIM,) or not np.isfinite(v).all():
        raise BadInput(f"an embedding must be {EMBED_DIM} finite floats, got shape {v.shape}")
    return v.astype("<f4").tobytes()


def to_vectors(blobs: list[bytes]) -> np.ndarray:
    if not blobs:
        return np.zeros((0, EMBED_DIM), np.float32)
    return np.frombuffer(b"".join(blobs), "<f4").reshape(-1, EMBED_DIM).astype(np.float32)


def person_name(name: str) -> str:
    """The one place a person's name is checked and normalised: every gallery method that takes a name
    passes it through here first, so " Bob " is stored and looked up as "Bob"."""
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 200 or any(ch in name for ch in "/\\\x00"):
        raise BadInput(f"invalid person name {name!r}: 1-200 characters, no slashes")
    return name
