"""Gallery safety with the real face models on real photos: a face that matches someone else is refused unless
forced, the same file or the same face counts once, a photo without a face stays refused, and enrolling a person
absorbs the stranger clusters their face matches."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import fixture_image
from vigil.config.settings import VigilConfig
from vigil.errors import MatchesAnother
from vigil.faces.enroll import Upload, enroll
from vigil.faces.gallery.gallery import Gallery
from vigil.faces.gallery.recorder import StrangerRecorder
from vigil.faces.recognizer import FaceRecognizer
from vigil.imaging import images
from vigil.registry.samples import sample_path
from vigil.registry.store import ModelStore


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> FaceRecognizer:
    config, store = VigilConfig(), ModelStore()
    for name in FaceRecognizer.models(config.faces):
        store.pull(name)
    return FaceRecognizer.load(config, store, Gallery(tmp_path_factory.mktemp("faces") / "first.sqlite3"))


@pytest.fixture
def recognizer(loaded, tmp_path) -> FaceRecognizer:
    """The loaded models with a fresh, empty gallery per test."""
    loaded.gallery = Gallery(tmp_path / "gallery.sqlite3")
    loaded.strangers = StrangerRecorder(loaded.gallery, loaded.config.cluster_distance)
    yield loaded
    loaded.strangers.wait()
    loaded.gallery.close()


def reencoded(path, quality: int = 70) -> bytes:
    """The same photo saved again: other bytes, the same face."""
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def test_a_face_that_matches_someone_else_is_refused_naming_them_unless_forced(recognizer):
    assert enroll(recognizer, "Obama", [sample_path("obama.jpg")]).samples == 1
    refused = enroll(recognizer, "Eileen", [sample_path("obama2.jpg")])  # another photo of the same man
    assert refused.added == [] and refused.matches == [(str(sample_path("obama2.jpg")), "Obama")]
    error = refused.conflict()
    assert isinstance(error, MatchesAnother) and error.status == 409 and error.matches == "Obama"
    assert "Obama" in str(error) and "Eileen" in str(error)
    assert [p.name for p in recognizer.gallery.people()] == ["Obama"]  # nothing was written
    forced = enroll(recognizer, "Eileen", [sample_path("obama2.jpg")], force=True)
    assert forced.samples == 1 and forced.matches and forced.conflict() is None
    assert enroll(recognizer, "Biden", [sample_path("biden.jpg")]).matches == []  # someone else: no match


def test_an_upload_is_named_by_its_file_name_once(recognizer):
    """HTTP callers pass the upload's file name (only its last part, printable characters) as the source's label."""
    enroll(recognizer, "Obama", [sample_path("obama.jpg")])
    photo = sample_path("obama2.jpg").read_bytes()
    refused = enroll(recognizer, "Eileen", [Upload(b"not an image", "C:\\photos\\bad\x07.jpg"),
                                            Upload(photo, "../phone/two.jpg"), Upload(photo, None)])
    assert [s for s, _ in refused.unreadable] == ["bad.jpg"]
    assert refused.matches == [("two.jpg", "Obama"), ("<bytes #2>", "Obama")]
    assert str(refused.conflict()) == ("two.jpg: this face already matches Obama; not enrolled as Eileen "
                                       "(enrol it anyway with force)")


def test_more_photos_of_the_same_person_are_not_a_conflict(recognizer):
    enroll(recognizer, "Obama", [sample_path("obama.jpg")])
    report = enroll(recognizer, "Obama", [sample_path("obama2.jpg"), sample_path("obama3.jpg")])
    assert report.samples == 2 and report.matches == []


def test_the_same_file_or_the_same_face_twice_is_one_sample(recognizer):
    photo = sample_path("obama.jpg")
    first = enroll(recognizer, "Obama", [photo, photo.read_bytes()])  # the same bytes twice in one call
    again = enroll(recognizer, "Obama", [photo, reencoded(photo)])  # the same file, then the same face re-saved
    assert first.samples == 1 and len(first.skipped) == 1
    assert again.samples == 0 and len(again.skipped) == 2
    assert recognizer.gallery.people()[0].samples == 1


def test_a_photo_without_a_face_is_refused_every_time(recognizer):
    horses = fixture_image("horses.jpg")
    for _ in range(2):  # the retry once answered "skipped" (a success with no sample)
        report = enroll(recognizer, "Nobody", [horses])
        assert report.no_face == [str(horses)] and report.skipped == [] and report.samples == 0


def test_enrolling_a_person_absorbs_their_stranger_clusters(recognizer):
    seen = recognizer.recognize(images.load(sample_path("obama2.jpg")), "camera", cluster_wait_s=30)
    other = recognizer.recognize(images.load(sample_path("biden.jpg")), "camera", cluster_wait_s=30)
    obama_cluster, biden_cluster = int(seen.data["cluster_id"][0]), int(other.data["cluster_id"][0])
    assert obama_cluster >= 0 and biden_cluster >= 0 and obama_cluster != biden_cluster
    report = enroll(recognizer, "Obama", [sample_path("obama.jpg")])
    assert report.absorbed == [obama_cluster]
    assert [c.id for c in recognizer.gallery.unknowns()] == [biden_cluster]  # Biden stays a stranger
    assert recognizer.gallery.people()[0].samples == 2  # the photo and the stranger's face
    found = recognizer.recognize(images.load(sample_path("obama2.jpg")))
    assert list(found.data["name"]) == ["Obama"] and np.all(found.data["cluster_id"] == -1)
