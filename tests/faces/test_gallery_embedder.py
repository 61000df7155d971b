"""A gallery records the embedder its vectors come from and refuses another (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faces.test_gallery import vec
from tests.faces.test_gallery_postgres import url  # noqa: F401 - a fresh schema on the real PostgreSQL server
from vigil.config.settings import VigilConfig
from vigil.errors import ConfigError
from vigil.faces.gallery.gallery import Gallery, Sample
from vigil.faces.gallery.location import open_gallery
from vigil.faces.recognizer import FaceRecognizer
from vigil.registry.face_catalog import DLIB_RESNET
from vigil.registry.store import ModelStore

OTHER = "sface.int8"  # the other embedder: the record is a name, the vectors cannot tell


@pytest.fixture(params=["sqlite", "postgresql"])
def gallery(request, tmp_path) -> Iterator[Gallery]:
    g = Gallery(tmp_path / "gallery.sqlite3") if request.param == "sqlite" else open_gallery(
        request.getfixturevalue("url"))
    yield g
    g.close()


def test_an_empty_gallery_takes_the_first_embedder_and_may_change_it(gallery):
    assert gallery.embedder() is None
    gallery.bind_embedder(OTHER)
    assert gallery.embedder() == OTHER
    gallery.bind_embedder(DLIB_RESNET)  # nothing enrolled yet: nothing to mismatch
    assert gallery.embedder() == DLIB_RESNET


def test_a_gallery_with_faces_refuses_another_embedder(gallery):
    gallery.bind_embedder(OTHER)
    gallery.add_file("alice", "h1", [Sample(vec(1))])
    gallery.bind_embedder(OTHER)  # the same one: fine
    with pytest.raises(ConfigError) as refused:
        gallery.bind_embedder(DLIB_RESNET)
    message = str(refused.value)
    assert OTHER in message and DLIB_RESNET in message and "[faces] embedder" in message
    assert gallery.embedder() == OTHER and [p.name for p in gallery.people()] == ["alice"]


def test_a_gallery_from_before_the_record_holds_dlib_vectors(gallery):
    gallery.add_file("alice", "h1", [Sample(vec(1))])  # enrolled without a record, as every gallery until now
    assert gallery.embedder() == DLIB_RESNET
    with pytest.raises(ConfigError, match=DLIB_RESNET):
        gallery.bind_embedder(OTHER)
    gallery.bind_embedder(DLIB_RESNET)


def test_the_recognizer_refuses_a_gallery_of_another_embedder(tmp_path):
    gallery = Gallery(tmp_path / "gallery.sqlite3")
    gallery.bind_embedder(OTHER)
    gallery.add_file("alice", "h1", [Sample(vec(1))])
    with pytest.raises(ConfigError, match="enrol again"):
        FaceRecognizer.load(VigilConfig(), ModelStore(), gallery)


def test_a_recognizer_with_sface_records_it_in_a_new_gallery(tmp_path):
    from vigil.registry.face_catalog import SFACE

    config = VigilConfig()
    config.faces.embedder = SFACE
    store = ModelStore()
    store.pull(SFACE)
    gallery = Gallery(tmp_path / "gallery.sqlite3")
    recognizer = FaceRecognizer.load(config, store, gallery)
    assert recognizer.embedder.name == SFACE and gallery.embedder() == SFACE
