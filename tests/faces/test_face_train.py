"""The seed's classifiers trained on real face embeddings (transformed copies of real photos), saved
without pickle, checked on load, and used by label_persons in classifier mode."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.config.settings import VigilConfig
from vigil.errors import BadInput, ModelIntegrityError
from vigil.faces.identity_model import FaceIdentityModel
from vigil.faces.recognizer import FaceRecognizer
from vigil.faces.train import train
from vigil.imaging.images import DecodedImage
from vigil.registry.face_catalog import BLAZEFACE, DLIB_RESNET
from vigil.registry.samples import sample_path
from vigil.registry.store import ModelStore
from vigil.results import Detections


def rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def variants(pixels: np.ndarray) -> list[np.ndarray]:
    out = [pixels, pixels[:, ::-1].copy(), cv2.cvtColor(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)]
    for s in (0.5, 0.7, 0.85):
        out.append(cv2.resize(pixels, None, fx=s, fy=s, interpolation=cv2.INTER_AREA))
    for b in (0.7, 0.85, 1.2, 1.4):
        out.append(np.clip(pixels * b, 0, 255).astype(np.uint8))
    _, jpeg = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 30])
    out.append(cv2.imdecode(jpeg, cv2.IMREAD_COLOR))
    return out


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory) -> FaceRecognizer:
    store = ModelStore()
    store.pull(BLAZEFACE)
    store.pull(DLIB_RESNET)
    return FaceRecognizer.load(VigilConfig(store={"data_dir": tmp_path_factory.mktemp("train")}), store)


@pytest.fixture(scope="module")
def dataset(recognizer) -> tuple[np.ndarray, np.ndarray]:
    import skimage.data

    people = {"Obama": [rgb(sample_path(n)) for n in ("obama.jpg", "obama2.jpg", "obama3.jpg")],
              "Biden": [rgb(sample_path("biden.jpg"))], "Eileen": [skimage.data.astronaut()]}
    x, y = [], []
    for name, photos in people.items():
        for photo in photos:
            for pixels in variants(photo):
                faces = [f for f in recognizer.detect(pixels) if f.quality == "ok"]
                if not faces:  # e.g. a half-size copy whose face is now too soft for the focus check
                    continue
                best = max(faces, key=lambda f: f.xyxy[2] - f.xyxy[0])
                x.append(recognizer.embed(pixels, best.xyxy[None])[0][0])
                y.append(name)
    return np.array(x), np.array(y, dtype=object)


@pytest.mark.parametrize("kind", ["svm", "xgb"])
def test_train_saves_a_checked_classifier_that_separates_real_people(dataset, kind, tmp_path):
    x, y = dataset
    report = train(x, y, kind, tmp_path, DLIB_RESNET, trees=300, draws=3)
    assert report.classes == ["Biden", "Eileen", "Obama"] and report.test_f1 >= 0.9
    assert (tmp_path / "confusion.png").stat().st_size > 1000
    assert "precision" in report.report
    manifest = json.loads((tmp_path / "classifier.json").read_text())
    assert manifest["kind"] == kind and manifest["metrics"]["test_f1"] == report.test_f1
    clf = FaceIdentityModel.load(tmp_path)
    predicted = [name for name, _ in clf.predict(x, 0.0)]
    assert np.mean(np.array(predicted, dtype=object) == y) >= 0.9
    model_file = tmp_path / manifest["file"]
    model_file.write_bytes(model_file.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelIntegrityError):
        FaceIdentityModel.load(tmp_path)


@pytest.mark.parametrize(("labels", "error"), [
    (["a"] * 10, BadInput),  # one class
    (["a"] * 8 + ["b"] * 2, BadInput),  # too few samples of b
])
def test_train_refuses_data_it_cannot_split(labels, error, tmp_path):
    x = np.random.default_rng(0).normal(size=(len(labels), 128))
    with pytest.raises(error):
        train(x, np.array(labels, dtype=object), "svm", tmp_path)


def test_unknown_classifier_kind(dataset, tmp_path):
    with pytest.raises(BadInput):
        train(*dataset, "forest", tmp_path)


def test_label_persons_in_classifier_mode(recognizer, dataset, tmp_path):
    train(*dataset, "svm", tmp_path, DLIB_RESNET)
    recognizer.identity_model = FaceIdentityModel.load(tmp_path)
    try:
        pixels = rgb(sample_path("obama2.jpg"))
        frame = DecodedImage(pixels, pixels.shape[1], pixels.shape[0])
        det = Detections(np.array([[100, 150, 520, 1200]], np.float32), [0.9], [0],
                         {"class_name": np.array(["person"], dtype=object)})
        out = recognizer.label_persons(frame, det)
        assert out.data["face"][0] == "Obama" and out.data["faceProba"][0] >= recognizer.config.min_proba
        found = recognizer.recognize(frame)
        assert list(found.data["name"]) == ["Obama"] and found.data["similarity"][0] >= recognizer.config.min_proba
    finally:
        recognizer.identity_model = None


def test_cli_train_on_the_gallery(dataset, tmp_path):
    from typer.testing import CliRunner

    from vigil.cli.main import app
    from vigil.faces.gallery.gallery import Gallery, Sample

    gallery = Gallery(tmp_path / "gallery.sqlite3")
    x, y = dataset
    for name in sorted(set(y)):
        gallery.add_samples(name, [Sample(v) for v in x[y == name]])
    result = CliRunner(env={"VIGIL_STORE__DATA_DIR": str(tmp_path)}).invoke(app, ["faces", "train", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["kind"] == "svm" and report["test_f1"] >= 0.9
    assert (tmp_path / "face_classifier" / "confusion.png").is_file()
    empty = CliRunner(env={"VIGIL_STORE__DATA_DIR": str(tmp_path / "none")}).invoke(app, ["faces", "train"])
    assert empty.exit_code == 1 and "two people" in empty.stderr
