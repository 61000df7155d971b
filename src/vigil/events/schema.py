"""The event log's SQLite schema (version 1), kept as the gallery keeps its own (faces/gallery/schema.py): one
statement list applied with CREATE ... IF NOT EXISTS, the version in `meta`, a newer file refused.

Snapshots live in the database beside their event (deleted with it), so retention by size is one SUM and the log
moves to another database as one unit.
"""

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, camera TEXT NOT NULL, label TEXT NOT NULL, name TEXT, cluster_id INTEGER,
    start REAL NOT NULL, last_seen REAL NOT NULL, end_time REAL, count INTEGER NOT NULL, max_count INTEGER NOT NULL,
    score REAL NOT NULL, box TEXT NOT NULL, frames INTEGER NOT NULL, source TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS events_start ON events(start);
CREATE INDEX IF NOT EXISTS events_camera_label ON events(camera, label);
CREATE INDEX IF NOT EXISTS events_cluster ON events(cluster_id);
CREATE TABLE IF NOT EXISTS snapshots (
    event_id INTEGER PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE, jpeg BLOB NOT NULL, bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS processed (path TEXT PRIMARY KEY, mtime REAL NOT NULL, done REAL NOT NULL);
CREATE INDEX IF NOT EXISTS processed_done ON processed(done);
CREATE TABLE IF NOT EXISTS cameras (name TEXT PRIMARY KEY, labels TEXT NOT NULL, first_seen REAL NOT NULL,
    last_seen REAL NOT NULL)
"""
