"""The sightings table's behaviour tests (test_sightings_store.py) unchanged on a real PostgreSQL gallery (each test
in its own schema, as tests/faces/test_gallery_postgres.py's)."""

from __future__ import annotations

from tests.faces.test_gallery_postgres import gallery, url  # noqa: F401 - the PostgreSQL fixtures
from tests.faces.test_sightings_store import (  # noqa: F401 - the behaviour tests, run on PostgreSQL
    test_forgetting_while_writers_file_leaves_no_half_rows,
    test_naming_and_reclustering_carry_a_strangers_sightings,
    test_retention_and_the_search_matrix_cache,
    test_sightings_keep_their_identity_and_refuse_one_that_is_gone,
)
