"""The event log on a real PostgreSQL server (VIGIL_TEST_POSTGRES; each test in its own schema, dropped after).

The SQLite log's behaviour tests run again here unchanged, plus what only a shared server has: writers in several
processes, a gallery and an event log in one database schema (one `meta` table), processes starting together on an
empty database, and the `vigil events` command reading the log the gallery's URL puts there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

from tests.events.test_cli_events import run
from tests.events.test_log import (  # noqa: F401 - the SQLite behaviour tests, run on PostgreSQL
    store,
    test_a_reader_follows_the_log_by_id,
    test_an_event_lists_its_frames_up_to_a_bound_and_they_go_with_it,
    test_filters_newest_first,
    test_restart_bookkeeping_and_relabelling,
    test_retention_by_age_and_by_size_whichever_first,
)
from tests.faces.test_gallery_postgres import query, url  # noqa: F401 - a fresh schema on the test server
from vigil.errors import ModelIntegrityError
from vigil.events.location import open_event_log
from vigil.events.log import EventQuery
from vigil.events.postgres_log import PostgresEventLog
from vigil.events.schema import EVENTS_SCHEMA
from vigil.faces.gallery.gallery import Sample
from vigil.faces.gallery.location import open_gallery
from vigil.faces.gallery.schema import GALLERY_SCHEMA


@pytest.fixture
def log(url) -> Iterator[PostgresEventLog]:  # noqa: F811 - the fixture imported above
    opened = open_event_log(url)
    assert isinstance(opened, PostgresEventLog)
    yield opened
    opened.close()


def meta(server: str) -> dict[str, str]:
    with psycopg.connect(server) as conn:
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def test_times_and_scores_are_double_precision_and_ids_identities(log, url):  # noqa: F811
    types = dict(psycopg.connect(url).execute(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND data_type IN ('real', 'double precision', 'bytea', 'bigint')"))
    assert {k for k, v in types.items() if v == "double precision"} == {
        "events.start", "events.last_seen", "events.end_time", "events.score", "processed.mtime", "processed.done",
        "cameras.first_seen", "cameras.last_seen", "event_frames.time", "event_frames.score"}
    assert types["snapshots.jpeg"] == "bytea" and types["events.id"] == "bigint" and "real" not in types.values()
    assert query(url, "SELECT is_identity FROM information_schema.columns WHERE table_schema = current_schema() "
                      "AND table_name = 'events' AND column_name = 'id'")[0] == "YES"
    now = 1763791234.123456  # float4 would keep 1763791232
    event = store(log, start=now, jpeg=b"\xff\xd8")
    log.mark_processed("/nvr/a.jpg", now)
    assert log.get(event.id).start == now and log.processed("/nvr/a.jpg", now)
    assert meta(url) == {EVENTS_SCHEMA.key: str(EVENTS_SCHEMA.version)}


def test_a_newer_schema_is_refused_and_a_dead_server_named_without_its_password(log, url):  # noqa: F811
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE meta SET value = %s WHERE key = %s", (str(EVENTS_SCHEMA.version + 1), EVENTS_SCHEMA.key))
    newer = EVENTS_SCHEMA.version + 1
    with pytest.raises(ModelIntegrityError, match=f"event log schema {newer} is newer than this Vigil"):
        open_event_log(url)
    with pytest.raises(ModelIntegrityError, match=r"postgresql://vigil@127\.0\.0\.1:1/vigil: cannot open the event "
                                                  r"log \(.*refused") as caught:
        open_event_log("postgresql://vigil:s3cret@127.0.0.1:1/vigil")
    assert "s3cret" not in str(caught.value)


WRITER = textwrap.dedent("""
    import sys
    from vigil.events.location import open_event_log
    from vigil.results import Event, EventChange
    log = open_event_log(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()  # both start writing together
    for i in range(int(sys.argv[3])):
        e = Event(sys.argv[2], "person", 1000.0 + i, 0.5, (1, 2, 3, 4), last_seen=1000.0 + i)
        log.save([EventChange("new", e)], {id(e): b"\\xff\\xd8" + bytes([i % 256])})
        print(e.id, flush=True)
""")


def test_two_processes_writing_one_log_lose_nothing_and_get_distinct_ids(log, url):  # noqa: F811
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, camera, "150"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for camera in ("a", "b")]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    written = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        written.append([int(line) for line in out.split()])
    ids = written[0] + written[1]
    assert len(ids) == 300 and len(set(ids)) == 300
    assert min(written[1]) < max(written[0]) and min(written[0]) < max(written[1])  # they did write together
    everything = log.query(EventQuery(limit=1000))
    assert sorted(e.id for e in everything) == sorted(ids)
    assert {c: sum(e.camera == c for e in everything) for c in "ab"} == {"a": 150, "b": 150}
    assert all(e.has_snapshot for e in everything)


def test_a_gallery_and_an_event_log_share_one_database_schema(url):  # noqa: F811
    gallery, log = open_gallery(url), open_event_log(url)
    try:
        gallery.add_file("alice", "h1", [Sample(np.full(128, 0.1, np.float32))])
        cluster = gallery.add_stranger(np.full(128, -0.1, np.float32))
        event = store(log, label="face", name="unknown", cluster=cluster)
        assert meta(url) == {GALLERY_SCHEMA.key: str(GALLERY_SCHEMA.version),
                             EVENTS_SCHEMA.key: str(EVENTS_SCHEMA.version)}
    finally:
        gallery.close()
        log.close()
    gallery, log = open_gallery(url), open_event_log(url)  # both open again over the other's tables and key
    try:
        assert [p.name for p in gallery.people()] == ["alice"] and log.get(event.id).cluster_id == cluster
    finally:
        gallery.close()
        log.close()


STARTER = textwrap.dedent("""
    import sys
    from vigil.events.location import open_event_log
    from vigil.faces.gallery.location import open_gallery
    opened = [open_event_log(sys.argv[1]), open_gallery(sys.argv[1])]
    if sys.argv[2] == "gallery first":
        opened.reverse()
    for store in opened:
        store.close()
""")


def test_processes_starting_together_on_an_empty_database_all_come_up(url):  # noqa: F811
    procs = [subprocess.Popen([sys.executable, "-c", STARTER, url, order], stderr=subprocess.PIPE, text=True)
             for order in ("gallery first", "log first") * 2]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert meta(url) == {GALLERY_SCHEMA.key: str(GALLERY_SCHEMA.version), EVENTS_SCHEMA.key: str(EVENTS_SCHEMA.version)}


def test_vigil_events_reads_the_log_the_gallery_url_puts_in_postgresql(tmp_path, log, url):  # noqa: F811
    config = tmp_path / "vigil.toml"
    config.write_text(f'[store]\ndata_dir = "data"\n[faces]\ngallery = "{url}"\n')
    store(log, "3", "person", 100.0)
    stranger = store(log, "4", "face", 200.0, name="unknown", cluster=5)
    done = run("events", "list", "--config", str(config), "--json")
    assert done.exit_code == 0, done.stderr
    assert [(e["id"], e["camera"]) for e in json.loads(done.stdout)] == [(stranger.id, "4"), (1, "3")]
    done = run("events", "relabel", "5", "bob", "--config", str(config), "--json")
    assert json.loads(done.stdout) == {"cluster_id": 5, "name": "bob", "events": 1}
    assert log.get(stranger.id).name == "bob"
    assert not (tmp_path / "data" / "events.sqlite3").exists()
