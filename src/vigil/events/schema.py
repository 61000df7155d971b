"""The event log's schema, one definition for SQLite and PostgreSQL, as versioned migrations (vigil.db.sql_schema).

Snapshots live in the database beside their event (deleted with it), so retention by size is one SUM and the log
moves to another database as one unit. Times and scores are double precision on PostgreSQL.

The version is kept in `meta` under 'events': on PostgreSQL the log shares its database schema, and so `meta`, with
a gallery (which keeps 'schema'). SQLite logs written before the migrations carry 'schema' = 1 and the same tables,
created IF NOT EXISTS: migration 1 finds them in place and only records 'events' = 1.
"""

from vigil.db.sql_schema import Migration, Schema

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, (
        "CREATE TABLE IF NOT EXISTS events (id {id}, camera TEXT NOT NULL, label TEXT NOT NULL, name TEXT, "
        "cluster_id {int64}, start {time} NOT NULL, last_seen {time} NOT NULL, end_time {time}, "
        "count INTEGER NOT NULL, max_count INTEGER NOT NULL, score {float} NOT NULL, box TEXT NOT NULL, "
        "frames INTEGER NOT NULL, source TEXT NOT NULL DEFAULT '')",
        "CREATE INDEX IF NOT EXISTS events_start ON events(start)",
        "CREATE INDEX IF NOT EXISTS events_camera_label ON events(camera, label)",
        "CREATE INDEX IF NOT EXISTS events_cluster ON events(cluster_id)",
        "CREATE TABLE IF NOT EXISTS snapshots (event_id {int64} PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE, "
        "jpeg {bytes} NOT NULL, bytes INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS processed (path TEXT PRIMARY KEY, mtime {time} NOT NULL, done {time} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS processed_done ON processed(done)",
        "CREATE TABLE IF NOT EXISTS cameras (name TEXT PRIMARY KEY, labels TEXT NOT NULL, first_seen {time} NOT NULL, "
        "last_seen {time} NOT NULL)",
    )),
    # issue 22: an event from a camera feed follows one track (NULL for the watcher's per-label events)
    Migration(2, ("ALTER TABLE events ADD COLUMN track_id {int64}",)),
    # 3: the frames each event was seen in (the page opens an event to them), a bounded number each
    Migration(3, (
        "CREATE TABLE IF NOT EXISTS event_frames (event_id {int64} NOT NULL REFERENCES events(id) ON DELETE CASCADE, "
        "time {time} NOT NULL, path TEXT NOT NULL, count INTEGER NOT NULL, score {float} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS event_frames_event ON event_frames(event_id, time)",
    )),
)

EVENTS_SCHEMA = Schema(MIGRATIONS, key="events", noun="event log")
SCHEMA_VERSION = EVENTS_SCHEMA.version
