import numpy as np
import pytest

from vigil.results import Detections


def make_detections(xyxy, score=None, class_id=None, **data) -> Detections:
    n = len(xyxy)
    score = np.array(score if score is not None else [0.9] * n, np.float32)
    class_id = np.array(class_id if class_id is not None else [0] * n)
    return Detections(np.array(xyxy, np.float32).reshape(-1, 4), score, class_id,
                      {k: np.array(v) for k, v in data.items()})


def test_mask_indexing_filters_every_array_and_data():
    d = make_detections([[0, 0, 1, 1], [0, 0, 2, 2], [0, 0, 3, 3]], [0.2, 0.6, 0.9], [1, 2, 3], name=["a", "b", "c"])
    kept = d[d.score > 0.5]
    assert len(kept) == 2
    assert kept.class_id.tolist() == [2, 3]
    assert kept.data["name"].tolist() == ["b", "c"]


def test_integer_index_keeps_shapes():
    d = make_detections([[0, 0, 1, 1], [0, 0, 2, 2]])
    one = d[1]
    assert one.xyxy.shape == (1, 4) and one.xyxy[0, 2] == 2


def test_empty_and_merge():
    a = make_detections([[0, 0, 1, 1]], class_id=[5])
    merged = Detections.merge([Detections.empty(), a, a])
    assert len(merged) == 2 and merged.class_id.tolist() == [5, 5]
    assert len(Detections.merge([])) == 0


def test_area_is_zero_for_inverted_boxes():
    assert make_detections([[0, 0, 2, 3], [5, 5, 1, 1]]).area.tolist() == [6.0, 0.0]


@pytest.mark.parametrize(
    ("xyxy", "score", "class_id", "data"),
    [
        ([[0, 0, 1, 1]], [0.5, 0.6], [0], {}),
        ([[0, 0, 1, 1]], [0.5], [0, 1], {}),
        ([[0, 0, 1, 1]], [0.5], [0], {"name": ["a", "b"]}),
    ],
)
def test_length_mismatch_is_refused(xyxy, score, class_id, data):
    with pytest.raises(ValueError, match="length|entries"):
        Detections(np.array(xyxy), np.array(score), np.array(class_id), {k: np.array(v) for k, v in data.items()})


def test_merge_refuses_different_data_keys():
    with pytest.raises(ValueError):
        Detections.merge([make_detections([[0, 0, 1, 1]], a=[1]), make_detections([[0, 0, 1, 1]], b=[1])])


def test_with_names_maps_ids_and_tolerates_unknown_ids():
    d = make_detections([[0, 0, 1, 1], [0, 0, 1, 1]], class_id=[1, 7]).with_names(["zero", "one"])
    assert d.data["class_name"].tolist() == ["one", "7"]
