import json

import numpy as np
import pytest

from tests.test_results import make_detections
from vigil.errors import BadInput
from vigil.formats.seed import from_seed, to_seed
from vigil.results import ImageResult


def test_seed_entry_shape_matches_the_original_servers():
    d = make_detections([[898.5, 288.9, 1328.2, 944.9]], [0.98046875], [0]).with_names(["person"])
    entry = to_seed(ImageResult("/nvr/a.jpg", d, 1920, 1080))
    assert entry == {"image": "/nvr/a.jpg", "labels": [{"id": 0, "name": "person", "score": 0.98046875, "box": {
        "xmin": pytest.approx(898.5), "ymin": pytest.approx(288.9), "xmax": pytest.approx(1328.2),
        "ymax": pytest.approx(944.9)}}]}
    json.dumps(entry)  # plain JSON types only


def test_face_fields_appear_with_null_for_not_recognised():
    d = make_detections([[0, 0, 1, 1], [0, 0, 2, 2]], class_id=[0, 0], face=np.array(["ann", None], dtype=object),
                        faceProba=np.array([0.88, None], dtype=object)).with_names(["person"])
    labels = to_seed(ImageResult("x", d))["labels"]
    assert [(x["face"], x["faceProba"]) for x in labels] == [("ann", 0.88), (None, None)]


def test_error_entry_has_empty_labels():
    assert to_seed(ImageResult("x.jpg", error="no such file")) == {"image": "x.jpg", "labels": [],
                                                                   "error": "no such file"}


def test_round_trip_through_detect_faces_input():
    d = make_detections([[1, 2, 3, 4]], [0.5], [2]).with_names(["a", "b", "car"])
    back = from_seed(json.loads(json.dumps(to_seed(ImageResult("p.jpg", d)))))
    assert back.image == "p.jpg" and back.detections.data["class_name"].tolist() == ["car"]
    np.testing.assert_allclose(back.detections.xyxy, [[1, 2, 3, 4]])


@pytest.mark.parametrize("entry", [None, "x", {"image": "a"}, {"image": "a", "labels": [{"name": "person"}]},
                                   {"image": "a", "labels": [{"box": {"xmin": "left"}}]}])
def test_malformed_entries_are_bad_input(entry):
    with pytest.raises(BadInput):
        from_seed(entry)
