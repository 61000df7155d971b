"""The SQLite gallery: a real file, real processes killed mid-write, concurrent writers, corruption."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from vigil.errors import BadInput, ModelIntegrityError, NotFound
from vigil.faces.gallery.gallery import Gallery, Sample
from vigil.faces.matcher import match


def vec(seed: int, near: np.ndarray | None = None, spread: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = near if near is not None else rng.normal(0, 0.09, 128)  # dlib-like norms (~1)
    return (base + rng.normal(0, spread, 128)).astype(np.float32)


@pytest.fixture
def gallery(tmp_path) -> Gallery:
    return Gallery(tmp_path / "gallery.sqlite3")


def test_people_add_rename_remove(gallery):
    assert gallery.add_file("alice", "h1", [Sample(vec(1))]) == 1
    assert gallery.add_file("alice", "h1", [Sample(vec(2))]) == 0  # same file again: nothing added
    assert gallery.add_file("bob", "h2", []) == 0  # no usable face: recorded, but no person
    assert [(p.name, p.samples) for p in gallery.people()] == [("alice", 1)]
    assert gallery.has_file("bob", "h2")
    gallery.rename("alice", "Alice")
    assert gallery.remove("Alice") == 1
    assert gallery.people() == []


@pytest.mark.parametrize(("call", "error"), [
    (lambda g: g.remove("nobody"), NotFound),
    (lambda g: g.rename("nobody", "x"), NotFound),
    (lambda g: g.rename("alice", "bob"), BadInput),  # the new name is taken
    (lambda g: g.rename("alice", "a/b"), BadInput),
    (lambda g: g.rename("alice", "  "), BadInput),
    (lambda g: g.add_file("carol", "h9", [Sample(np.zeros(12, np.float32))]), BadInput),
    (lambda g: g.add_file("carol", "h9", [Sample(np.full(128, np.nan, np.float32))]), BadInput),
    (lambda g: g.name_cluster(999, "x"), NotFound),
    (lambda g: g.reject_sample(999), NotFound),
])
def test_bad_requests_are_typed_and_change_nothing(gallery, call, error):
    gallery.add_file("alice", "h1", [Sample(vec(1))])
    gallery.add_file("bob", "h2", [Sample(vec(2))])
    with pytest.raises(error):
        call(gallery)
    assert [(p.name, p.samples) for p in gallery.people()] == [("alice", 1), ("bob", 1)]


@pytest.mark.parametrize("content", [b"this is not a database" * 100, b"SQLite format 3\x00" + b"\x07" * 4000])
def test_a_corrupted_gallery_is_refused_and_never_recreated(tmp_path, content):
    path = tmp_path / "gallery.sqlite3"
    path.write_bytes(content)
    with pytest.raises(ModelIntegrityError, match="untouched"):
        Gallery(path)
    assert path.read_bytes() == content


def test_an_unrelated_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(ModelIntegrityError):
        Gallery(path)


WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from vigil.faces.gallery.gallery import Sample
    from vigil.faces.gallery.location import open_gallery
    location, name, count, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    g = open_gallery(location)
    for i in range(count):
        vectors = [np.full(128, i, np.float32), np.full(128, -i, np.float32)]  # two faces per file
        g.add_file(name, f"{name}-{i}", [Sample(v) for v in vectors], f"file{i}")
        print(i, flush=True)
        time.sleep(pause)
""")


def writer(location: Path | str, name: str, count: int, pause: float = 0.0) -> subprocess.Popen:
    """A process enrolling `count` files into the gallery at `location` (an SQLite file or a PostgreSQL URL)."""
    return subprocess.Popen([sys.executable, "-c", WRITER, str(location), name, str(count), str(pause)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_mid_enrolment_keeps_committed_files_whole_and_a_rerun_resumes(tmp_path):
    path = tmp_path / "gallery.sqlite3"
    proc = writer(path, "alice", 1000, 0.002)
    for _ in range(20):  # wait for some commits
        proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    g = Gallery(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        files = conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        samples = conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        orphans = conn.execute("SELECT COUNT(*) FROM people p WHERE NOT EXISTS "
                               "(SELECT 1 FROM samples s WHERE s.person_id = p.id)").fetchone()[0]
    assert 20 <= files < 1000 and samples == 2 * files and orphans == 0  # no half-written file or person
    g.close()
    rerun = writer(path, "alice", files + 5)
    rerun.communicate(timeout=60)
    assert Gallery(path).people()[0].samples == 2 * (files + 5)  # committed files skipped by hash


def test_two_enrolments_at_once_lose_nothing(tmp_path):
    path = tmp_path / "gallery.sqlite3"
    Gallery(path).close()
    procs = [writer(path, "shared", 60), writer(path, "shared", 60), writer(path, "bob", 60)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    people = {p.name: p.samples for p in Gallery(path).people()}
    assert people == {"shared": 120, "bob": 120}  # the same files from two writers count once


def test_matrix_sees_commits_from_another_process(tmp_path):
    path = tmp_path / "gallery.sqlite3"
    g = Gallery(path)
    assert len(g.matrix().embeddings) == 0
    writer(path, "alice", 3).communicate(timeout=60)
    assert len(g.matrix().embeddings) == 6


def test_negative_feedback_stops_the_same_mistake(gallery):
    alice = vec(1)
    gallery.add_file("alice", "h1", [Sample(alice)])
    lookalike = vec(2, near=alice, spread=0.025)  # a different person, close enough to be named alice
    assert match(lookalike[None], gallery.matrix(), 0.5, 0.6)[0].name == "alice"
    gallery.add_negative("alice", lookalike, "not her")
    again = vec(3, near=lookalike, spread=0.005)  # the same stranger at the door again
    assert match(again[None], gallery.matrix(), 0.5, 0.6)[0].name != "alice"
    assert match(vec(4, near=alice, spread=0.005)[None], gallery.matrix(), 0.5, 0.6)[0].name == "alice"


def test_open_set_thresholds(gallery):
    base = vec(1)
    gallery.add_file("alice", "h1", [Sample(base)])
    direction = np.random.default_rng(5).normal(size=128).astype(np.float32)
    direction /= np.linalg.norm(direction)
    names = [match((base + d * direction)[None], gallery.matrix(), 0.5, 0.6)[0].name for d in (0.3, 0.55, 0.8)]
    assert names == ["alice", "uncertain", "unknown"]


def test_strangers_cluster_and_can_be_named(gallery):
    a, b = vec(10), vec(20)
    for k in range(4):
        gallery.add_stranger(vec(100 + k, near=a, spread=0.015))
        gallery.add_stranger(vec(200 + k, near=b, spread=0.015))
    clusters = gallery.unknowns()
    assert len(clusters) == 2 and sorted(c.sightings for c in clusters) == [4, 4]
    gallery.add_stranger(vec(100, near=a, spread=0.001))  # seen again: a sighting, no new face kept
    assert gallery.recluster(0.5) == 2
    assert sorted(c.sightings for c in gallery.unknowns()) == [4, 5]  # sightings survive reclustering
    first = gallery.unknowns()[0]
    assert gallery.name_cluster(first.id, "visitor") == first.faces
    assert [p.name for p in gallery.people()] == ["visitor"] and len(gallery.unknowns()) == 1


def test_stranger_cluster_ids_are_never_given_out_twice(tmp_path):
    path = tmp_path / "gallery.sqlite3"
    with Gallery(path) as gallery:
        first, second = gallery.add_stranger(vec(10)), gallery.add_stranger(vec(20))
        assert second > first
        gallery.name_cluster(second, "visitor")  # the highest id goes: SQLite alone would hand it out again
        third = gallery.add_stranger(vec(30))
        assert third > second
        gallery.dismiss_cluster(third)
    with Gallery(path) as gallery:  # the high-water mark is in the file, not the process
        assert gallery.add_stranger(vec(40)) > third
        gallery.add_stranger(vec(41, near=vec(40), spread=0.01))  # joins it: no new cluster
        assert gallery.recluster(0.5) == 2
        assert min(c.id for c in gallery.unknowns()) > third + 1  # reclustering takes fresh ids too


def test_clusters_near_finds_the_clusters_holding_a_face(gallery):
    a = vec(10)
    near, far = gallery.add_stranger(vec(11, near=a, spread=0.01)), gallery.add_stranger(vec(20))
    assert gallery.clusters_near(a, 0.5) == [near] and far not in gallery.clusters_near(a, 0.5)
    assert gallery.clusters_near(vec(99), 0.05) == []


def test_a_file_remembers_how_many_faces_it_gave(gallery):
    gallery.add_file("alice", "h1", [Sample(vec(1))])
    gallery.add_file("alice", "h2", [])
    gallery.add_file("alice", "h3", [], faces=1)  # the same face again: recorded, no second sample
    assert [gallery.file_faces("alice", h) for h in ("h1", "h2", "h3", "h4")] == [1, 0, 1, None]
    assert gallery.people()[0].samples == 1


def test_reject_sample_moves_it_to_feedback(gallery):
    gallery.add_file("alice", "h1", [Sample(vec(1)), Sample(vec(2))])
    sample_id = gallery.samples("alice")[1][0]
    assert gallery.reject_sample(sample_id) == "alice"
    m = gallery.matrix()
    assert len(m.embeddings) == 1 and len(m.negatives) == 1


def test_thumbnail_round_trip(gallery):
    gallery.add_file("alice", "h1", [Sample(vec(1), thumbnail=b"\xff\xd8jpeg")])
    assert gallery.thumbnail(gallery.samples("alice")[0][0]) == b"\xff\xd8jpeg"
    time.sleep(0)


@pytest.mark.parametrize(
    ("add", "stored"),
    [
        (lambda g: g.add_samples(" Bob ", [Sample(vec(1))]), "Bob"),  # once raised TypeError: stripped vs raw name
        (lambda g: g.add_file("  Bob", "h1", [Sample(vec(1))]), "Bob"),
        (lambda g: g.name_cluster(g.unknowns()[0].id, "Bob\t") if g.add_stranger(vec(1)) >= 0 else None, "Bob"),
    ],
    ids=["add_samples", "add_file", "name_cluster"],
)
def test_a_name_with_surrounding_spaces_is_stored_and_found_stripped(gallery, add, stored):
    assert add(gallery) == 1
    assert [p.name for p in gallery.people()] == [stored]
    assert gallery.person_id(" Bob ") == gallery.person_id("Bob")
    assert gallery.has_file(" Bob ", "h1") == gallery.has_file("Bob", "h1")


def test_a_new_gallery_file_is_private(tmp_path):
    Gallery(tmp_path / "g.sqlite3")
    assert (tmp_path / "g.sqlite3").stat().st_mode & 0o777 == 0o600


def test_the_systemd_unit_sets_a_private_umask():
    from pathlib import Path

    unit = Path(__file__).resolve().parents[2] / "deploy" / "vigil.service"
    assert "UMask=0077" in unit.read_text().splitlines()
