"""DeepStack / CodeProject.AI bodies from typed results."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.formats import deepstack
from vigil.results import Detections

TIMING = deepstack.Timing(process_ms=12.4, inference_ms=9.6)


def _dets(**data) -> Detections:
    return Detections([[10.4, 20.5, 110.6, 220.49], [0, 0, 5, 5]], [0.9, 0.5], [0, 2],
                      {k: np.array(v, dtype=object) for k, v in data.items()})


def test_detection_body():
    body = deepstack.detection(_dets(class_name=["person", "car"]), TIMING)
    assert body["success"] is True and body["count"] == 2 and body["message"] == "Found car, person"
    assert body["predictions"][0] == {"label": "person", "confidence": pytest.approx(0.9), "x_min": 10,
                                      "y_min": 20, "x_max": 111, "y_max": 220}
    assert (body["duration"], body["inferenceMs"], body["processMs"]) == (0, 10, 12)


@pytest.mark.parametrize(("name", "similarity", "min_confidence", "userid", "confidence"), [
    ("alice", 0.8, 0.0, "alice", 0.8),
    ("alice", 0.8, 0.9, "unknown", 0.0),  # below min_confidence: a stranger, as DeepStack answered
    ("unknown", 0.3, 0.0, "unknown", 0.0),
    ("uncertain", 0.45, 0.0, "unknown", 0.0),  # Vigil's "uncertain" is not a name
])
def test_recognition_strangers_are_unknown_with_confidence_zero(name, similarity, min_confidence, userid,
                                                                 confidence):
    found = Detections([[1, 2, 3, 4]], [0.99], [0], {"name": np.array([name], dtype=object),
                                                      "similarity": np.array([similarity], np.float32)})
    prediction = deepstack.recognition(found, TIMING, min_confidence)["predictions"][0]
    assert prediction["userid"] == userid and prediction["confidence"] == pytest.approx(confidence)
    assert set(prediction) == {"userid", "confidence", "x_min", "y_min", "x_max", "y_max"}


def test_error_and_empty_bodies():
    assert deepstack.error("No valid image file was found", 400) == {
        "success": False, "error": "No valid image file was found", "code": 400}
    assert deepstack.detection(Detections.empty(), TIMING)["predictions"] == []
    assert deepstack.face_list(["a", "b"])["faces"] == ["a", "b"]
