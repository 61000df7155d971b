"""The gallery's SQLite schema (version 1). Embeddings are 128 little-endian float32s (512 bytes)."""

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    embedding BLOB NOT NULL CHECK (length(embedding) = 512),
    file_hash TEXT, source TEXT NOT NULL DEFAULT '', thumbnail BLOB, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS samples_person ON samples(person_id);
CREATE TABLE IF NOT EXISTS files (
    name TEXT NOT NULL, file_hash TEXT NOT NULL, source TEXT NOT NULL DEFAULT '', faces INTEGER NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (name, file_hash));
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    embedding BLOB NOT NULL CHECK (length(embedding) = 512), note TEXT NOT NULL DEFAULT '', created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS clusters (
    id INTEGER PRIMARY KEY, created REAL NOT NULL, last_seen REAL NOT NULL, sightings INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS strangers (
    id INTEGER PRIMARY KEY,
    cluster_id INTEGER NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    embedding BLOB NOT NULL CHECK (length(embedding) = 512),
    thumbnail BLOB, source TEXT NOT NULL DEFAULT '', created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS strangers_cluster ON strangers(cluster_id)
"""
