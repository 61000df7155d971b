"""The gallery on a real PostgreSQL server (VIGIL_TEST_POSTGRES; each test in its own schema, dropped after).

The SQLite gallery's behaviour tests run again here unchanged, plus what only a shared server has: a second
process refreshed by NOTIFY (no polling), writers in several processes, a writer killed mid-enrolment, and
migrations from several processes starting together on an empty database.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

from tests.faces.test_gallery import (  # noqa: F401 - the SQLite behaviour tests, run on PostgreSQL
    test_bad_requests_are_typed_and_change_nothing,
    test_negative_feedback_stops_the_same_mistake,
    test_open_set_thresholds,
    test_people_add_rename_remove,
    test_reject_sample_moves_it_to_feedback,
    test_strangers_cluster_and_can_be_named,
    test_thumbnail_round_trip,
    vec,
    writer,
)
from vigil.faces.gallery.gallery import Sample
from vigil.faces.gallery.location import open_gallery
from vigil.faces.gallery.postgres import PostgresGallery
from vigil.faces.gallery.schema import SCHEMA_VERSION

SERVER = os.environ.get("VIGIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def fresh_schema(prefix: str = "vigil_test") -> Iterator[str]:
    """The URL of a new schema on the test server, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{SERVER}{'&' if '?' in SERVER else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_schema() as location:
        yield location


@pytest.fixture
def gallery(url) -> Iterator[PostgresGallery]:
    g = open_gallery(url)
    assert isinstance(g, PostgresGallery)
    yield g
    g.close()


def query(url: str, sql: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchone()


RECOGNISER = textwrap.dedent("""
    import json, sys
    import numpy as np
    from vigil.faces.gallery.location import open_gallery
    from vigil.faces.matcher import match
    g = open_gallery(sys.argv[1])
    assert g.listening.wait(30)
    print("ready", flush=True)
    for line in sys.stdin:
        face = np.asarray(json.loads(line), np.float32)[None]
        name = match(face, g.matrix(), 0.5, 0.6)[0].name
        print(json.dumps({"name": name, "notifications": g.notifications, "reloads": g.reloads}), flush=True)
""")


def test_a_second_process_recognises_an_enrolment_within_a_second_by_notify(url, gallery):
    other = subprocess.Popen([sys.executable, "-c", RECOGNISER, url], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "ready", other.stderr.read()
        alice = vec(1)

        def ask() -> dict:
            other.stdin.write(json.dumps(alice.tolist()) + "\n")
            other.stdin.flush()
            return json.loads(other.stdout.readline())

        before = ask()
        assert before["name"] == "unknown" and before["notifications"] == 0
        assert ask()["reloads"] == before["reloads"]  # nothing changed, nothing reloaded: no polling
        gallery.add_file("alice", "h1", [Sample(alice)])
        enrolled = time.monotonic()
        while (answer := ask())["name"] != "alice" and time.monotonic() - enrolled < 1.0:
            time.sleep(0.01)
        assert answer["name"] == "alice", answer
        assert answer["notifications"] >= 1 and answer["reloads"] == before["reloads"] + 1
        gallery.rename("alice", "Alice")
        deadline = time.monotonic() + 1.0
        while (answer := ask())["name"] != "Alice" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert answer["name"] == "Alice"
    finally:
        other.kill()
        other.communicate()


def test_concurrent_enrolments_from_two_processes_lose_nothing(url, gallery):
    procs = [writer(url, "shared", 40), writer(url, "shared", 40), writer(url, "bob", 40)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert {p.name: p.samples for p in gallery.people()} == {"shared": 80, "bob": 80}
    assert len(gallery.matrix().embeddings) == 160


def test_a_process_killed_mid_enrolment_leaves_no_half_person(url, gallery):
    proc = writer(url, "alice", 1000, 0.002)
    for _ in range(15):
        proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    files, samples = query(url, "SELECT (SELECT COUNT(*) FROM files), (SELECT COUNT(*) FROM samples)")
    orphans = query(url, "SELECT COUNT(*) FROM people p WHERE NOT EXISTS "
                         "(SELECT 1 FROM samples s WHERE s.person_id = p.id)")[0]
    assert 15 <= files < 1000 and samples == 2 * files and orphans == 0
    _, err = writer(url, "alice", files + 3).communicate(timeout=60)
    assert gallery.people()[0].samples == 2 * (files + 3), err  # committed files skipped by hash


STARTER = "import sys; from vigil.faces.gallery.location import open_gallery; open_gallery(sys.argv[1]).close()"


def test_migrations_from_processes_starting_together_all_succeed(url):
    procs = [subprocess.Popen([sys.executable, "-c", STARTER, url], stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert query(url, "SELECT value FROM meta WHERE key = 'schema'")[0] == str(SCHEMA_VERSION)
    assert query(url, "SELECT COUNT(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                      "WHERE c.relnamespace = current_schema()::regnamespace AND t.tgname LIKE '%_changed'")[0] == 3
    assert query(url, "SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() "
                      "AND table_name = 'samples' AND column_name = 'embedding'")[0] == "ARRAY"


def test_embeddings_are_real_arrays(gallery, url):
    gallery.add_file("alice", "h1", [Sample(np.arange(128, dtype=np.float32) / 128)])
    stored = query(url, "SELECT embedding FROM samples")[0]
    assert stored == pytest.approx(list(np.arange(128) / 128))


def test_the_listener_reconnects_after_losing_its_connection(url, gallery):
    assert gallery.listening.wait(10)
    lost = gallery.listener_pid
    query(url, f"SELECT pg_terminate_backend({lost})")  # what a database restart or a dropped link does
    deadline = time.monotonic() + 20
    while gallery.listener_pid == lost and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gallery.listening.wait(10) and gallery.listener_pid != lost
    before = gallery.notifications
    _, err = writer(url, "alice", 1).communicate(timeout=60)
    while gallery.notifications == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gallery.notifications > before, err
    assert len(gallery.matrix().embeddings) == 2
