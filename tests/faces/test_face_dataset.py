"""`vigil faces dataset` on small real inputs: the lfw_subset demo, a gallery enrolled from messi5.jpg, --faces,
--nonfaces (with an unreadable file) and hard negatives from camera frames; the layout `vigil train classify` reads."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import fixture_image
from vigil.cli.main import app
from vigil.config.settings import VigilConfig
from vigil.faces import dataset
from vigil.faces.enroll import enroll
from vigil.faces.gallery.gallery import Gallery
from vigil.faces.recognizer import FaceRecognizer
from vigil.registry.face_catalog import BLAZEFACE, DLIB_RESNET
from vigil.registry.store import ModelStore
from vigil.tasks.detect import ObjectDetector


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory) -> FaceRecognizer:
    store = ModelStore()
    for name in (BLAZEFACE, DLIB_RESNET):
        store.pull(name)
    gallery = Gallery(tmp_path_factory.mktemp("gallery") / "gallery.sqlite3")
    rec = FaceRecognizer.load(VigilConfig(), store, gallery)
    assert enroll(rec, "Messi", [fixture_image("messi5.jpg")]).samples == 1
    return rec


def folder_of(tmp_path, *names: str):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in names:
        shutil.copy(fixture_image(name), folder / name)
    return folder


def pngs(out, label: str) -> list:
    return sorted((out / label).glob("*.png"))


def test_demo_is_lfw_subset_as_face_and_nonface_pngs(tmp_path):
    result = CliRunner().invoke(app, ["faces", "dataset", "--out", str(tmp_path / "set"), "--demo", "--no-gallery",
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"] == {"face": 100, "nonface": 100}
    first = cv2.imread(str(pngs(tmp_path / "set", "face")[0]), cv2.IMREAD_UNCHANGED)
    assert first.shape == (25, 25) and first.dtype == np.uint8
    assert len(pngs(tmp_path / "set", "nonface")) == 100


def test_gallery_thumbnails_and_faces_folder_give_positives(recognizer, tmp_path):
    writer = dataset.DatasetWriter(tmp_path / "set")
    dataset.from_gallery(writer, recognizer.gallery)
    dataset.from_faces(writer, recognizer, folder_of(tmp_path, "messi5.jpg", "horses.jpg"))
    assert writer.report.written == {"gallery": {"face": 1, "nonface": 0}, "faces": {"face": 1, "nonface": 0}}
    crop = cv2.imread(str(next((tmp_path / "set" / "face").glob("faces_messi5_*.png"))), cv2.IMREAD_UNCHANGED)
    assert 25 <= crop.shape[1] <= 50  # Messi's face box (~37 px), not the frame
    assert crop.ndim == 2  # grey, as the gate scores it


def test_nonfaces_folder_reports_an_unreadable_file_and_keeps_the_rest(tmp_path):
    folder = folder_of(tmp_path, "horses.jpg", "dog.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    writer = dataset.DatasetWriter(tmp_path / "set")
    dataset.from_nonfaces(writer, folder)
    assert writer.report.written == {"nonfaces": {"face": 0, "nonface": 2}}
    assert [s for s, _ in writer.report.unreadable] == [str(folder / "broken.jpg")]
    assert max(cv2.imread(str(pngs(tmp_path / "set", "nonface")[0])).shape[:2]) == dataset.MAX_SIDE


def test_camera_frames_give_faceless_heads_and_background(recognizer, tmp_path):
    store = ModelStore()
    model = VigilConfig().detect.model
    store.pull(model)
    writer = dataset.DatasetWriter(tmp_path / "set")
    dataset.from_frames(writer, recognizer, ObjectDetector.load(store, model), folder_of(tmp_path, "vtest_060.jpg"))
    written = writer.report.written
    assert written["heads"]["nonface"] >= 3  # pedestrians whose faces are too small to find
    assert written["background"]["nonface"] == dataset.PATCHES_PER_FRAME
    assert not pngs(tmp_path / "set", "face")


@pytest.mark.parametrize("persons, faces, heads", [
    ([[0, 0, 100, 300]], [], [[20, 0, 80, 60]]),  # the top of the box, 0.6 of its width
    ([[0, 0, 100, 300]], [[40, 10, 60, 30]], []),  # a face was found in it: not a negative
    ([[0, 0, 20, 60]], [], []),  # too small to hold a usable head
])
def test_faceless_heads(persons, faces, heads):
    got = dataset._faceless_heads(np.array(persons, np.float32), np.array(faces, np.float32).reshape(-1, 4))
    assert np.allclose(np.array(got).reshape(-1, 4), np.array(heads, np.float32).reshape(-1, 4))


def test_background_patches_touch_no_person_or_face():
    avoid = np.array([[0, 0, 200, 480], [300, 100, 340, 140]], np.float32)
    patches = dataset._background(640, 480, avoid, np.random.default_rng(1))
    assert len(patches) == dataset.PATCHES_PER_FRAME
    for x0, y0, x1, y1 in patches:
        assert x0 >= 200 and not (x0 < 340 and x1 > 300 and y0 < 140 and y1 > 100)
        assert 24 <= x1 - x0 <= 96


def test_cli_builds_from_faces_and_frames_with_the_configured_models(tmp_path):
    faces, frames = tmp_path / "faces", tmp_path / "frames"
    for folder, name in ((faces, "messi5.jpg"), (frames, "vtest_060.jpg")):
        folder.mkdir()
        shutil.copy(fixture_image(name), folder / name)
    runner = CliRunner(env={"VIGIL_STORE__DATA_DIR": str(tmp_path / "data")})
    result = runner.invoke(app, ["faces", "dataset", "--out", str(tmp_path / "set"), "--faces", str(faces),
                                 "--frames", str(frames), "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    written = json.loads(result.stdout)["written"]
    assert written["faces"] == {"face": 1, "nonface": 0} and written["heads"]["nonface"] >= 3
    assert "gallery" not in written  # no gallery in this data dir
