"""The face gate ([faces] gate): real BlazeFace candidates on real frames, scored by gate models built in the test
(a logistic regression trained on lfw_subset, and constant ones), before alignment and embedding."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.conftest import fixture_image
from tests.faces import gate_models
from vigil.config.settings import VigilConfig
from vigil.errors import NotActivated
from vigil.faces.gate import FaceGate, gate_crop
from vigil.faces.recognizer import FaceRecognizer
from vigil.imaging import images
from vigil.ops.nms import iou_matrix
from vigil.registry.face_catalog import BLAZEFACE, DLIB_RESNET
from vigil.registry.store import ModelStore
from vigil.tasks.face_detect import load_face_detector
from vigil.tasks.face_embed import FaceEmbedder

MESSI_FACE = (222, 93, 259, 130)


@pytest.fixture(scope="module")
def models() -> ModelStore:
    store = ModelStore()
    for name in (BLAZEFACE, DLIB_RESNET):
        store.pull(name)
    return store


@pytest.fixture(scope="module")
def gates(tmp_path_factory) -> ModelStore:
    home = tmp_path_factory.mktemp("gates")
    gate_models.register(home, "gate.lfw", gate_models.logistic_onnx(home / "lfw.onnx"))
    gate_models.register(home, "gate.always03", gate_models.constant_onnx(home / "c03.onnx", 0.3))
    gate_models.register(home, "gate.pets", gate_models.constant_onnx(home / "pets.onnx", 0.3), ("cat", "dog"))
    return ModelStore(home)


def recognizer(models: ModelStore, gate: FaceGate | None, min_score: float = 0.6) -> FaceRecognizer:
    config = VigilConfig(faces={"min_score": min_score}).faces
    return FaceRecognizer(config, load_face_detector(models, BLAZEFACE), FaceEmbedder.load(models, DLIB_RESNET),
                          gate=gate)


def rgb(name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(fixture_image(name))), cv2.COLOR_BGR2RGB)


def test_gate_drops_a_false_face_and_keeps_the_real_one(models, gates):
    gate = FaceGate.load(gates, "gate.lfw", 0.5)
    plain, gated = recognizer(models, None, 0.5), recognizer(models, gate, 0.5)
    # person.jpg: a woman seen from behind; BlazeFace takes her hair for two faces at 0.5
    assert len(plain.detect(rgb("person.jpg"))) == 2
    assert len(gated.detect(rgb("person.jpg"))) < 2
    kept = gated.detect(rgb("messi5.jpg"))
    assert len(kept) == 1 and iou_matrix(kept[0].xyxy, MESSI_FACE)[0, 0] > 0.5


def test_recognize_embeds_only_what_the_gate_lets_through(models, gates):
    frame = images.load(fixture_image("messi5.jpg"))
    strict = recognizer(models, FaceGate.load(gates, "gate.always03", 0.5))
    lenient = recognizer(models, FaceGate.load(gates, "gate.always03", 0.25))
    assert len(strict.recognize(frame)) == 0
    found = lenient.recognize(frame)
    assert len(found) == 1 and list(found.data["quality"]) == ["ok"]


def test_every_candidate_of_a_frame_is_scored_in_one_run(models, gates):
    gate = FaceGate.load(gates, "gate.lfw", 0.0)
    assert gate.classifier.batched  # the batch axis is dynamic
    runs = []
    session = gate.classifier.session
    original = session.run
    session.run = lambda feeds: runs.append(len(feeds[0])) or original(feeds)
    faces = recognizer(models, gate, min_score=0.3).detect(rgb("messi5.jpg"))
    assert len(faces) > 3 and runs == [len(faces)]


@pytest.mark.parametrize("name, problem", [
    ("gate.missing", "unknown model"),
    ("gate.pets", "no 'face'"),
    (BLAZEFACE, "not a servable classifier"),
])
def test_an_unusable_gate_is_not_activated_and_named(gates, name, problem):
    with pytest.raises(NotActivated, match=problem) as caught:
        FaceGate.load(gates, name, 0.5)
    assert name in str(caught.value)


def test_the_configured_gate_is_loaded_per_recognizer_and_a_missing_one_named(models):
    config = VigilConfig(faces={"gate": "no_such.gate"})
    with pytest.raises(NotActivated, match="no_such.gate"):
        FaceRecognizer.load(config, models)


@pytest.mark.parametrize("box, shape", [
    ((10, 20, 30, 50), (30, 20, 3)),
    ((-5, -5, 10, 10), (10, 10, 3)),  # clipped to the image
    ((95, 95, 120, 120), (5, 5, 3)),
    ((50, 50, 51, 80), None),  # one pixel wide: nothing to score
])
def test_gate_crop(box, shape):
    crop = gate_crop(np.zeros((100, 100, 3), np.uint8), np.array(box, np.float32))
    assert (crop is None) if shape is None else crop.shape == shape


def test_the_gate_is_one_of_the_face_task_models_only_when_set():
    from vigil.faces.task import TASK

    assert TASK.models(VigilConfig()) == (BLAZEFACE, DLIB_RESNET)
    assert TASK.models(VigilConfig(faces={"gate": "face_gate.mine"})) == (BLAZEFACE, DLIB_RESNET, "face_gate.mine")
