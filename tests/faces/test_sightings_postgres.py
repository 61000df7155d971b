"""The sightings table's behaviour tests (test_sightings_store.py) unchanged on a real PostgreSQL gallery (each test
in its own schema, as tests/faces/test_gallery_postgres.py's)."""

from __future__ import annotations

import time

from tests.faces.test_gallery import vec
from tests.faces.test_gallery_postgres import gallery, url  # noqa: F401 - the PostgreSQL fixtures
from tests.faces.test_sightings_store import (  # noqa: F401 - the behaviour tests, run on PostgreSQL
    seen,
    test_forgetting_while_writers_file_leaves_no_half_rows,
    test_naming_and_reclustering_carry_a_strangers_sightings,
    test_retention_and_the_search_matrix_cache,
    test_sightings_keep_their_identity_and_refuse_one_that_is_gone,
)
from vigil.faces.gallery.gallery import Sample
from vigil.faces.gallery.location import open_gallery
from vigil.faces.sightings import Sightings


def test_sightings_leave_the_match_matrix_while_enrolments_still_reach_other_processes(url, gallery):  # noqa: F811
    """Filing a sighting (and a stranger) after every recognised face must not reload the people matrix; an
    enrolment still does, here and in another gallery on the same database (by NOTIFY, within a second)."""
    other = open_gallery(url)
    try:
        assert gallery.listening.wait(30) and other.listening.wait(30)
        store = Sightings(gallery)
        gallery.add_samples("alice", [Sample(vec(1))])
        alice = gallery.person_id("alice")
        deadline = time.monotonic() + 1.0  # both listeners hear alice's enrolment before the matrices are kept
        while min(gallery.notifications, other.notifications) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gallery.notifications == other.notifications == 1
        kept, reloads, theirs = gallery.matrix(), gallery.reloads, other.matrix()
        other_reloads = other.reloads
        for t in range(3):
            assert store.add([seen(float(t + 1), vec(3), person=alice)]) == 1
            cluster = gallery.add_stranger(vec(20 + t))
            assert store.add([seen(float(t + 10), vec(4), cluster=cluster)]) == 1
            assert gallery.matrix() is kept
        assert store.prune(before=2.0, keep=100) == 1 and store.count() == 5
        assert gallery.matrix() is kept and gallery.reloads == reloads
        assert other.matrix() is theirs and other.reloads == other_reloads
        gallery.add_samples("bob", [Sample(vec(2))])
        assert "bob" in gallery.matrix().names.values() and gallery.reloads == reloads + 1
        enrolled = time.monotonic()
        while "bob" not in other.matrix().names.values() and time.monotonic() - enrolled < 1.0:
            time.sleep(0.01)
        assert "bob" in other.matrix().names.values()
    finally:
        other.close()
