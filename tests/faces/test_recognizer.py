"""FaceRecognizer on real photos with the real models: detection, the ONNX embedder against dlib's own,
open-set recognition, the seed's detect_faces semantics (label_persons) and its bad inputs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import fixture_image
from vigil.config.settings import VigilConfig
from vigil.faces.enroll import enroll
from vigil.faces.gallery.gallery import Gallery
from vigil.faces.recognizer import FaceRecognizer
from vigil.imaging import images
from vigil.imaging.images import DecodedImage
from vigil.ops.nms import iou_matrix
from vigil.registry.face_catalog import BLAZEFACE, DLIB_HOG, DLIB_MMOD, DLIB_RESNET
from vigil.registry.samples import sample_path
from vigil.registry.store import ModelStore
from vigil.results import Detections
from vigil.runtimes import dlib as dlib_rt
from vigil.tasks.face_detect import load_face_detector

OBAMA2_FACE = (179, 278, 444, 621)


def rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def frame_of(pixels: np.ndarray, scale: float = 1.0) -> DecodedImage:
    h, w = pixels.shape[:2]
    return DecodedImage(pixels, round(w / scale), round(h / scale))


@pytest.fixture(scope="module")
def store() -> ModelStore:
    s = ModelStore()
    for name in (BLAZEFACE, DLIB_MMOD, DLIB_RESNET):
        s.pull(name)
    return s


@pytest.fixture(scope="module")
def recognizer(store, tmp_path_factory) -> FaceRecognizer:
    gallery = Gallery(tmp_path_factory.mktemp("faces") / "gallery.sqlite3")
    rec = FaceRecognizer.load(VigilConfig(), store, gallery)
    report = enroll(rec, "Obama", [sample_path("obama.jpg")])
    assert report.samples == 1
    return rec


def test_enrolment_reports_each_unreadable_source_under_its_own_name(recognizer, tmp_path):
    """An unreadable file was once filed under the previous source's name."""
    missing, broken = tmp_path / "missing.jpg", tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    report = enroll(recognizer, "Nobody", [b"not an image", missing, broken])
    assert [source for source, _ in report.unreadable] == ["<bytes #0>", str(missing), str(broken)]
    assert not report.added and "Nobody" not in [p.name for p in recognizer.gallery.people()]


@pytest.mark.parametrize("detector", [BLAZEFACE, DLIB_HOG, DLIB_MMOD])
def test_detectors_find_the_real_face_and_nothing_in_a_faceless_photo(store, detector):
    det = load_face_detector(store, detector)
    found = det(rgb(sample_path("obama2.jpg")), 0.6)
    assert len(found) == 1 and iou_matrix(found.xyxy[0], OBAMA2_FACE)[0, 0] > 0.5
    assert len(det(rgb(fixture_image("horses.jpg")), 0.6)) == 0


def test_blazeface_keypoints_lie_inside_the_face(store):
    found = load_face_detector(store, BLAZEFACE)(rgb(sample_path("obama2.jpg")), 0.6)
    kps = found.data["keypoints"][0]
    assert kps.shape == (6, 2)
    x0, y0, x1, y1 = found.xyxy[0]
    eyes = kps[:2]
    assert ((eyes[:, 0] > x0) & (eyes[:, 0] < x1) & (eyes[:, 1] > y0) & (eyes[:, 1] < y1)).all()


def test_onnx_embedder_matches_dlibs_own_network(store, recognizer):
    pixels = rgb(sample_path("biden.jpg"))
    boxes = np.array([f.xyxy for f in recognizer.detect(pixels)])
    ours, chips = recognizer.embed(pixels, boxes, jitters=0)
    encoder = dlib_rt.face_encoder(store.path(DLIB_RESNET, "model"))
    theirs = np.array([np.asarray(v) for v in encoder.compute_face_descriptor(chips)], np.float32)
    assert np.abs(ours - theirs).max() < 1e-4


def grey(pixels):
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)


@pytest.mark.parametrize(("image", "transform", "expected"), [
    ("obama2.jpg", lambda p: p, ["Obama"]),
    ("obama_partial_face2.jpg", lambda p: p, ["Obama"]),
    ("obama2.jpg", grey, ["Obama"]),  # an IR / greyscale frame arrives as one channel
    ("obama2.jpg", lambda p: cv2.resize(p, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), ["Obama"]),
    ("biden.jpg", lambda p: p, ["unknown"]),
])
def test_recognize_real_photos(recognizer, image, transform, expected):
    found = recognizer.recognize(frame_of(transform(rgb(sample_path(image)))))
    assert list(found.data["name"]) == expected
    assert set(found.data) >= {"name", "similarity", "person_id"}


def test_recognize_reports_boxes_in_original_pixels_for_a_reduced_decode(recognizer):
    data = sample_path("obama2.jpg").read_bytes()
    frame = images.decode(data, fit=(300, 300))
    assert frame.scale < 1
    found = recognizer.recognize(frame)
    assert list(found.data["name"]) == ["Obama"] and iou_matrix(found.xyxy[0], OBAMA2_FACE)[0, 0] > 0.5


def test_recognize_without_faces_is_empty(recognizer):
    found = recognizer.recognize(frame_of(rgb(fixture_image("horses.jpg"))))
    assert len(found) == 0 and set(found.data) >= {"name", "similarity", "person_id"}


def persons(boxes, names) -> Detections:
    return Detections(np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9), np.zeros(len(boxes)),
                      {"class_name": np.array(names, dtype=object)})


PERSON_BOX = [100, 150, 520, 1200]  # around the face in obama2.jpg


def blur(p):
    return cv2.GaussianBlur(p, (0, 0), 6)


def tiny(p):
    return cv2.resize(p, None, fx=0.05, fy=0.05, interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize(("pixels", "box", "name", "face", "matched"), [
    (lambda: rgb(sample_path("obama2.jpg")), PERSON_BOX, "person", "Obama", True),
    (lambda: rgb(sample_path("obama2.jpg")), PERSON_BOX, "car", None, False),  # not a person: not examined
    (lambda: rgb(sample_path("biden.jpg")), [300, 100, 850, 1500], "person", None, True),  # stranger: not recognised
    (lambda: rgb(fixture_image("person.jpg")), [190, 95, 275, 375], "person", None, False),  # seen from behind: no face
    (lambda: blur(rgb(sample_path("obama2.jpg"))), PERSON_BOX, "person", None, False),  # variance of Laplacian < 200
    (lambda: tiny(rgb(sample_path("obama2.jpg"))), [5, 7, 26, 60], "person", None, False),  # face under 20 px
    (lambda: rgb(sample_path("obama2.jpg")), [2000, 2000, 2500, 2600], "person", None, False),  # outside the image
    (lambda: rgb(sample_path("obama2.jpg")), [300, 300, 300, 900], "person", None, False),  # empty crop
    (lambda: rgb(sample_path("obama2.jpg")), [np.nan, 0, 10, 10], "person", None, False),  # garbage box
])
def test_label_persons_seed_semantics(recognizer, pixels, box, name, face, matched):
    """faceProba is set exactly when the matcher ran; face is a name only for a recognised person."""
    out = recognizer.label_persons(frame_of(pixels()), persons([box], [name]))
    assert list(out.data["face"]) == [face]
    assert (out.data["faceProba"][0] is not None) == matched


def test_label_persons_echoes_every_detection_in_order(recognizer):
    boxes = [[0, 0, 50, 50], PERSON_BOX, [10, 10, 20, 20], [300, 300, 300, 900], PERSON_BOX]
    names = ["car", "person", "dog", "person", "person"]
    det = persons(boxes, names)
    out = recognizer.label_persons(frame_of(rgb(sample_path("obama2.jpg"))), det)
    assert np.array_equal(out.xyxy, det.xyxy) and list(out.data["class_name"]) == names
    assert list(out.data["face"]) == [None, "Obama", None, None, "Obama"]
    assert [p is None for p in out.data["faceProba"]] == [True, False, True, True, False]
    assert 0 < out.data["faceProba"][1] <= 1


def test_label_persons_on_a_reduced_frame_uses_original_pixel_boxes(recognizer):
    frame = images.decode(sample_path("obama2.jpg").read_bytes(), fit=(300, 600))
    assert frame.scale < 1
    out = recognizer.label_persons(frame, persons([PERSON_BOX], ["person"]))
    assert list(out.data["face"]) == ["Obama"]


def test_label_persons_stops_inside_its_loop_once_the_deadline_has_passed(recognizer):
    """450 person labels behind an abandoned call must not hold the face worker: the loop checks the deadline."""
    import time

    from vigil.errors import TimedOut

    det = persons([PERSON_BOX] * 450, ["person"] * 450)
    with pytest.raises(TimedOut, match="abandoned"):
        recognizer.label_persons(frame_of(rgb(sample_path("obama2.jpg"))), det, deadline=time.monotonic() - 1)


def test_label_persons_without_detections(recognizer):
    out = recognizer.label_persons(frame_of(rgb(fixture_image("horses.jpg"))), Detections.empty())
    assert len(out) == 0 and "face" in out.data and "faceProba" in out.data


def test_strangers_are_filed_into_provisional_clusters(recognizer):
    before = {c.id: c.sightings for c in recognizer.gallery.unknowns()}
    for image in ("biden.jpg", "biden.jpg"):
        recognizer.recognize(frame_of(rgb(sample_path(image))), image)
    recognizer.strangers.wait()  # filed off the request path
    after = recognizer.gallery.unknowns()
    grown = [c for c in after if c.sightings > before.get(c.id, 0)]
    assert len(grown) == 1  # both sightings of the same stranger land in one cluster


def test_one_recognizer_serves_several_threads(recognizer):
    from concurrent.futures import ThreadPoolExecutor

    frames = [frame_of(rgb(sample_path(n))) for n in ("obama2.jpg", "biden.jpg")] * 4
    with ThreadPoolExecutor(4) as pool:
        names = list(pool.map(lambda f: list(recognizer.recognize(f).data["name"]), frames))
    assert names == [["Obama"], ["unknown"]] * 4


def test_a_small_persons_head_is_searched_closer_and_maps_back(recognizer):
    """A narrow person crop (the astronaut at a quarter size): the head region upscaled finds the face where the
    whole crop does, box for box in the crop's pixels; a person seen from behind gives no face either way."""
    import cv2
    import skimage.data

    from vigil.faces.recognizer import head_region

    small = cv2.resize(skimage.data.astronaut(), None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    crop = np.ascontiguousarray(small[5:128, 30:90])
    head, zoom = head_region(crop)
    assert zoom > 2 and head.shape[1] == round(crop.shape[1] * zoom)
    direct = recognizer._face_in(crop, crop, 1.0, 1.0)
    closer = recognizer._face_in(head, crop, zoom, 1.0)
    assert direct is not None and closer is not None
    np.testing.assert_allclose(closer[1] / zoom, direct[1], atol=2)
    back = rgb(fixture_image("person.jpg"))[99:377, 198:272]
    assert recognizer._best_face(frame_of(back), np.array([0, 0, back.shape[1], back.shape[0]], np.float32)) is None
