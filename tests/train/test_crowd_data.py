"""The annotation readers on small hand-made files, bad files naming themselves, and weight-name mapping."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vigil.errors import BadInput
from vigil.train.crowd_data import load_dataset, read_json_points, read_mat_points


def _shanghaitech_mat(path, points):
    from scipy.io import savemat

    # ShanghaiTech's nesting: image_info is a 1x1 cell holding a 1x1 struct whose first field is the points
    inner = np.empty((1, 1), dtype=[("location", "O"), ("number", "O")])
    inner[0, 0] = (np.asarray(points, np.float64), np.array([[len(points)]]))
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = inner
    savemat(str(path), {"image_info": cell})


def _image(path, size=(64, 48)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 60)).save(path)


def test_mat_reader_reads_shanghaitech_points(tmp_path):
    _shanghaitech_mat(tmp_path / "GT_IMG_1.mat", [[10.5, 20.0], [30.0, 40.25], [1.0, 2.0]])
    points = read_mat_points(tmp_path / "GT_IMG_1.mat")
    assert points.tolist() == [[10.5, 20.0], [30.0, 40.25], [1.0, 2.0]]


def test_shanghaitech_layout(tmp_path):
    _image(tmp_path / "images" / "IMG_1.jpg")
    _image(tmp_path / "images" / "IMG_2.jpg")
    (tmp_path / "ground_truth").mkdir()
    _shanghaitech_mat(tmp_path / "ground_truth" / "GT_IMG_1.mat", [[5, 5]])
    _shanghaitech_mat(tmp_path / "ground_truth" / "GT_IMG_2.mat", [[5, 5], [6, 6]])
    items = load_dataset(tmp_path)
    assert [(i.image.name, len(i.points)) for i in items] == [("IMG_1.jpg", 1), ("IMG_2.jpg", 2)]


def test_json_layout(tmp_path):
    _image(tmp_path / "images" / "a.jpg")
    _image(tmp_path / "images" / "b.png")
    (tmp_path / "points.json").write_text(json.dumps({"a.jpg": [[1, 2], [3, 4]], "b.png": []}))
    items = load_dataset(tmp_path)
    assert [(i.image.name, i.points.shape) for i in items] == [("a.jpg", (2, 2)), ("b.png", (0, 2))]


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "cannot read"),
    ("[1, 2]", "expected an object"),
    ('{"a.jpg": [[1, "x"]]}', "not numbers"),
    ('{"a.jpg": [1, 2, 3]}', "(n, 2)"),
    ('{"a.jpg": [[1, NaN]]}', "NaN"),
])
def test_bad_json_names_the_file(tmp_path, content, message):
    path = tmp_path / "points.json"
    path.write_text(content)
    with pytest.raises(BadInput, match=message) as info:
        read_json_points(path)
    assert str(path) in str(info.value)


def test_bad_mat_names_the_file(tmp_path):
    from scipy.io import savemat

    wrong = tmp_path / "GT_IMG_9.mat"
    savemat(str(wrong), {"something_else": np.zeros(3)})
    garbage = tmp_path / "GT_IMG_8.mat"
    garbage.write_bytes(b"not a mat file at all")
    for path in (wrong, garbage):
        with pytest.raises(BadInput, match="not a ShanghaiTech annotation") as info:
            read_mat_points(path)
        assert str(path) in str(info.value)


def test_missing_annotations_are_named(tmp_path):
    _image(tmp_path / "images" / "IMG_3.jpg")
    (tmp_path / "ground_truth").mkdir()
    with pytest.raises(BadInput, match="GT_IMG_3.mat"):
        load_dataset(tmp_path)
    (tmp_path / "points.json").write_text("{}")
    with pytest.raises(BadInput, match="IMG_3.jpg"):
        load_dataset(tmp_path)


def test_published_csrnet_names_are_mapped():
    torch = pytest.importorskip("torch")
    from vigil.train.density import map_published

    tiny = {"module.frontend.0.weight": torch.ones(2), "frontend.0.bias": torch.zeros(2),
            "backend.4.weight": torch.full((3,), 2.0), "output_layer.weight": torch.ones(1, 64, 1, 1)}
    mapped = map_published({"state_dict": tiny, "epoch": 3})
    assert sorted(mapped) == ["decoder.4.weight", "encoder.0.bias", "encoder.0.weight", "head.weight"]
    assert mapped["decoder.4.weight"].tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="reg_layer.0.weight"):
        map_published({"reg_layer.0.weight": torch.ones(1)})


def test_csrnet_weights_load_into_our_vgg16_model():
    torch = pytest.importorskip("torch")
    from vigil.train.density import VggCsr, map_published

    ours = VggCsr().state_dict()
    back = {"encoder.": "frontend.", "decoder.": "backend.", "head.": "output_layer."}
    published = {}
    for key, value in ours.items():
        prefix = next(p for p in back if key.startswith(p))
        published[back[prefix] + key[len(prefix):]] = torch.randn_like(value)
    model = VggCsr()
    model.load_state_dict(map_published(published))  # strict: every parameter found, none left over
    assert torch.equal(model.head.weight, published["output_layer.weight"])


def test_flat_mobilenet_v2_names_become_torchvision_names():
    torch = pytest.importorskip("torch")
    from vigil.train.density import nested_mobilenet_v2

    flat = {"features.1.conv.0.weight": torch.zeros(1), "features.1.conv.3.weight": torch.zeros(1),
            "features.1.conv.4.bias": torch.zeros(1), "features.2.conv.3.weight": torch.zeros(1),
            "features.2.conv.6.weight": torch.zeros(1), "features.2.conv.7.running_mean": torch.zeros(1),
            "features.0.0.weight": torch.zeros(1)}
    assert sorted(nested_mobilenet_v2(flat)) == sorted([
        "features.1.conv.0.0.weight", "features.1.conv.1.weight", "features.1.conv.2.bias",
        "features.2.conv.1.0.weight", "features.2.conv.2.weight", "features.2.conv.3.running_mean",
        "features.0.0.weight"])


def test_cli_train_crowd_names_the_bad_annotation_file(tmp_path):
    import subprocess
    import sys

    _image(tmp_path / "data" / "images" / "a.jpg")
    (tmp_path / "data" / "points.json").write_text('{"a.jpg": [[1, 2, 3]')
    done = subprocess.run([sys.executable, "-m", "vigil.cli", "train", "crowd", str(tmp_path / "data"), "--out",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert str(tmp_path / "data" / "points.json") in done.stderr.replace("\n", "")
