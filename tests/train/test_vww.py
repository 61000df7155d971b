"""The Visual Wake Words rule on a hand-made COCO instances file, edge cases one row each."""

import csv
import json

import pytest

from vigil.errors import BadInput
from vigil.train.vww import coco_dataset, vww_labels

# every image is 10 000 px², so the 0.005 threshold is an area of exactly 50
IMAGES = [
    ("exact.jpg", 100, 100), ("above.jpg", 100, 100), ("dog_only.jpg", 100, 100), ("crowd.jpg", 100, 100),
    ("empty.jpg", 100, 100), ("many_small.jpg", 100, 100), ("big_box_small_area.jpg", 100, 100),
    ("wide.jpg", 200, 50),
]
ANNOTATIONS = [  # (file, category, area, iscrowd, bbox)
    ("exact.jpg", 1, 50.0, 0, [0, 0, 10, 10]),  # exactly at the threshold: not strictly greater → negative
    ("above.jpg", 1, 50.5, 0, [0, 0, 10, 10]),
    ("above.jpg", 18, 9000.0, 0, [0, 0, 90, 100]),
    ("dog_only.jpg", 18, 5000.0, 0, [0, 0, 50, 100]),  # another class only: negative for person
    ("crowd.jpg", 1, 2000.0, 1, [0, 0, 50, 40]),  # crowd annotations count
    ("many_small.jpg", 1, 40.0, 0, [0, 0, 8, 5]),  # per annotation, never summed
    ("many_small.jpg", 1, 40.0, 0, [50, 50, 8, 5]),
    ("big_box_small_area.jpg", 1, 30.0, 0, [0, 0, 20, 20]),  # the segment's area, not its box
    ("wide.jpg", 1, 60.0, 0, [0, 0, 10, 6]),  # width × height from the images entry (200 × 50)
]
PERSON = {"exact.jpg": 0, "above.jpg": 1, "dog_only.jpg": 0, "crowd.jpg": 1, "empty.jpg": 0, "many_small.jpg": 0,
          "big_box_small_area.jpg": 0, "wide.jpg": 1}


def _coco() -> dict:
    ids = {name: i + 1 for i, (name, _, _) in enumerate(IMAGES)}
    return {
        "images": [{"id": ids[n], "file_name": n, "width": w, "height": h} for n, w, h in IMAGES],
        "annotations": [{"id": i, "image_id": ids[f], "category_id": c, "area": a, "iscrowd": crowd, "bbox": box}
                        for i, (f, c, a, crowd, box) in enumerate(ANNOTATIONS)],
        "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}, {"id": 3, "name": "car"}],
    }


def test_the_vww_rule_on_every_edge_case():
    assert dict(vww_labels(_coco(), "person", 0.005)) == PERSON


def test_any_category_can_be_the_class_of_interest():
    labels = dict(vww_labels(_coco(), "dog", 0.005))
    assert {n for n, v in labels.items() if v} == {"above.jpg", "dog_only.jpg"}
    assert not any(dict(vww_labels(_coco(), "car", 0.005)).values())  # a class with no annotations


@pytest.fixture()
def coco_folder(tmp_path):
    images = tmp_path / "train2014"
    images.mkdir()
    for name, _, _ in IMAGES:
        (images / name).write_bytes(b"jpeg bytes of " + name.encode())
    instances = tmp_path / "instances_train2014.json"
    instances.write_text(json.dumps(_coco()))
    return instances, images


def test_the_dataset_has_one_row_per_image_and_the_trainer_folders(coco_folder, tmp_path):
    instances, images = coco_folder
    out = tmp_path / "vww"
    coco_dataset(instances, images, out)
    with (out / "manifest.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["file"] for r in rows] == [n for n, _, _ in IMAGES]
    assert {r["file"]: int(r["label"]) for r in rows} == PERSON and {r["split"] for r in rows} == {"train"}
    assert sorted(p.name for p in (out / "person").iterdir()) == sorted(n for n, v in PERSON.items() if v)
    assert (out / "non_person" / "empty.jpg").read_bytes() == b"jpeg bytes of empty.jpg"


@pytest.mark.parametrize(("change", "message"), [
    ("bad_json", r"instances_train2014.json: not valid JSON"),
    ("not_coco", r"not a COCO instances file \(no annotations\)"),
    ("missing_image", r"missing 1 COCO image\(s\): crowd.jpg"),
    ("unknown_class", r"unknown class 'persn'.*did you mean person"),
])
def test_bad_input_is_named(coco_folder, tmp_path, change, message):
    instances, images = coco_folder
    class_name = "persn" if change == "unknown_class" else "person"
    if change == "bad_json":
        instances.write_text('{"images": [')
    elif change == "not_coco":
        instances.write_text(json.dumps({"images": [], "categories": []}))
    elif change == "missing_image":
        (images / "crowd.jpg").unlink()
    with pytest.raises(BadInput, match=message):
        coco_dataset(instances, images, tmp_path / "vww", class_name)
    assert not (tmp_path / "vww" / "manifest.csv").exists()
