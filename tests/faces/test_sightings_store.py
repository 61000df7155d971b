"""The sightings table's behaviour on its own (vigil.faces.sightings), on SQLite here and unchanged on PostgreSQL in
test_sightings_postgres.py: identities that vanish, forgetting while writers file, retention, the search matrix's
cache, naming and reclustering a stranger. Embeddings are dlib-like vectors (as tests/faces/test_gallery.py's);
real faces go through the same store in test_sightings.py."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.faces.test_gallery import gallery, vec  # noqa: F401 - the SQLite gallery fixture
from vigil.errors import BadInput
from vigil.faces.gallery.gallery import Sample
from vigil.faces.sightings import NewSighting, Sightings, Who


def seen(t: float, vector: np.ndarray, person: int | None = None, cluster: int | None = None,
         camera: str = "gate") -> NewSighting:
    return NewSighting(t, camera, vector, person, cluster, event_id=int(t), crop=b"\xff\xd8crop", quality=t / 1000)


def test_sightings_keep_their_identity_and_refuse_one_that_is_gone(gallery):  # noqa: F811
    store = Sightings(gallery)
    gallery.add_samples("alice", [Sample(vec(1))])
    alice = gallery.person_id("alice")
    cluster = gallery.add_stranger(vec(2))
    assert store.add([seen(1.0, vec(3), person=alice), seen(2.0, vec(4), cluster=cluster),
                      seen(3.0, vec(5), cluster=cluster + 99)]) == 2
    rows = store.rows()
    assert [(r.name, r.cluster, r.event_id) for r in rows] == [("alice", None, 1), (None, cluster, 2)]
    assert store.crop(rows[0].id) == b"\xff\xd8crop" and store.rows(since=1.5) == rows[1:]
    gallery.remove("alice")  # removing a person takes their sightings
    assert [r.who for r in store.rows()] == [Who(cluster=cluster)]


def test_forgetting_while_writers_file_leaves_no_half_rows(gallery):  # noqa: F811
    store = Sightings(gallery)
    face = vec(7)
    cluster = gallery.add_stranger(face)
    assert gallery.add_stranger(vec(8)) > cluster  # a later cluster: the forgotten id is never handed out again
    errors: list[BaseException] = []
    after: list[int] = []
    filing, forgotten = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            while True:
                late = forgotten.is_set()
                filed = store.add([seen(1.0, face, cluster=cluster), seen(2.0, face, cluster=cluster)])
                gallery.add_stranger(vec(9, near=face, spread=0.05))
                filing.set()
                if late:
                    after.append(filed)
                    return
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for t in threads:
        t.start()
    assert filing.wait(30)
    removed = store.forget(Who(cluster=cluster))
    forgotten.set()
    for t in threads:
        t.join(30)
    assert not errors and removed["sightings"] >= 2 and removed["faces"] >= 1 and after == [0, 0, 0]
    left = gallery._conn.execute("SELECT (SELECT COUNT(*) FROM sightings WHERE cluster_id = ?), "
                                 "(SELECT COUNT(*) FROM strangers WHERE cluster_id = ?), "
                                 "(SELECT COUNT(*) FROM clusters WHERE id = ?)", (cluster, cluster, cluster)).fetchone()
    assert tuple(left) == (0, 0, 0)


def test_retention_and_the_search_matrix_cache(gallery):  # noqa: F811
    store = Sightings(gallery)
    cluster = gallery.add_stranger(vec(1))
    store.add([seen(float(t), vec(t), cluster=cluster) for t in (10, 20, 30)])
    ids, vectors, norms = store.matrix()
    assert len(ids) == 3 and np.allclose(norms, (vectors ** 2).sum(1), rtol=1e-5)
    store.add([seen(40.0, vec(40), cluster=cluster)])
    assert len(store.matrix()[0]) == 4  # appended
    assert store.prune(before=15.0, keep=10) == 1 and store.prune(before=0.0, keep=2) == 1
    assert [r.seen for r in store.rows()] == [30.0, 40.0] and list(store.matrix()[0]) == [r.id for r in store.rows()]
    other = gallery.add_stranger(vec(50))
    store.add([seen(50.0, vec(50), cluster=other)])
    assert len(store.matrix()[0]) == 3
    elsewhere = Sightings(gallery)  # another process's store: its forget empties this one's cache too
    assert elsewhere.forget(Who(cluster=cluster))["sightings"] == 2
    assert list(store.matrix()[0]) == [r.id for r in store.rows()] and len(store.rows()) == 1


def test_naming_and_reclustering_carry_a_strangers_sightings(gallery):  # noqa: F811
    store = Sightings(gallery)
    a, b = vec(10), vec(20)
    first = gallery.add_stranger(vec(11, near=a))
    second = gallery.add_stranger(vec(21, near=b))
    store.add([seen(1.0, a, cluster=first), seen(2.0, b, cluster=second)])
    gallery.recluster(0.5)
    moved = {r.seen: r.cluster for r in store.rows()}
    clusters = {c.id for c in gallery.unknowns()}
    assert set(moved.values()) == clusters and moved[1.0] != moved[2.0]
    gallery.name_cluster(moved[1.0], "bob")
    assert [(r.seen, r.name, r.cluster) for r in store.rows()] == [(1.0, "bob", None), (2.0, None, moved[2.0])]
    assert store.forget(Who(name="bob")) == {"sightings": 1, "faces": 1}


@pytest.mark.parametrize(("text", "who", "error"), [
    ("12", Who(cluster=12), None),
    ("cluster:12", Who(cluster=12), None),
    ("name:12", Who(name="12"), None),  # a person whose name is digits
    (" Bob ", Who(name="Bob"), None),
    ("", None, BadInput),
    ("a/b", None, BadInput),
])
def test_an_identity_is_a_cluster_or_a_name(text, who, error):
    if error is not None:
        with pytest.raises(error):
            Who.parse(text)
    else:
        assert Who.parse(text) == who
