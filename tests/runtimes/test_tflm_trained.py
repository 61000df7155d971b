"""A presence model trained here, end to end onto the microcontroller's runtime: a tiny grey MobileNetV1 trained from
scratch on person / background crops of the camera frames, exported full int8 (int8 in and out) with TFLite Micro's
example symbol, loaded in TFLM, and served by `vigil presence detect`'s task from the store."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests import person_data
from tests.conftest import fixture_image
from vigil.export.manifest import register
from vigil.export.run import export_run
from vigil.imaging import images
from vigil.registry.store import ModelStore
from vigil.runtimes import litert, tflm
from vigil.tasks.presence import PresenceModel
from vigil.train.classify import train_classifier
from vigil.train.run import TrainConfig

SYMBOL = "g_person_detect_model_data"
SIZE = 48  # small enough for seconds of training, large enough for MobileNetV1's five stride-2 stages
FRAMES = ["vtest_000.jpg", "vtest_060.jpg", "vtest_120.jpg", "vtest_180.jpg", "vtest_240.jpg", "vtest_300.jpg",
          "vtest_360.jpg", "person.jpg", "messi5.jpg", "dog.jpg", "horses.jpg", "giraffe.jpg", "eagle.jpg"]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[Path, dict, PresenceModel]:
    person_data.require_edge()
    root = tmp_path_factory.mktemp("presence_micro")
    cfg = TrainConfig(dataset=str(person_data.dataset(root / "crops")), arch="mobilenet_v1", width=0.25, size=SIZE,
                      gray=True, pretrained=False, lr_schedule="triangular", scratch_epochs=3, name="presence.micro")
    train_classifier(cfg, root / "run")
    report = export_run(root / "run", ["litert-int8", "c-array"], int8_io=True, c_symbol=SYMBOL)
    home = root / "home"
    names = register(root / "run", home)
    assert "presence.micro.litert" in names
    return root / "run", report, PresenceModel.open(ModelStore(home), "presence.micro.litert")


@pytest.fixture(scope="module")
def tensors(served) -> list[np.ndarray]:
    """The frames (and their mirror images) as the serving task encodes them: grey int8 at the input's scale."""
    model = served[2]
    rgbs = [images.load(fixture_image(name)).pixels for name in FRAMES]
    return [model.tensor(rgb) for rgb in rgbs] + [model.tensor(rgb[:, ::-1]) for rgb in rgbs]


def test_tflm_runs_the_trained_model_within_one_lsb_of_litert(served, tensors):
    run, report, _ = served
    path = run / "model.int8.tflite"
    assert report["forms"]["litert-int8"]["input"] == "int8" and report["forms"]["litert-int8"]["output"] == "int8"
    assert path.stat().st_size <= 300_000
    assert len(tensors) >= 20 and tensors[0].dtype == np.int8 and tensors[0].shape == (1, SIZE, SIZE, 1)
    reference = litert.interpreter(path, threads=1, builtin_kernels=True)
    micro = tflm.interpreter(path.read_bytes())
    ours = [tflm.run(micro, t) for t in tensors]
    theirs = [litert.run(reference, [t])[0] for t in tensors]
    assert all(o.dtype == np.int8 for o in ours)
    lsb = [int(np.abs(o.astype(np.int32) - t.astype(np.int32)).max()) for o, t in zip(ours, theirs, strict=True)]
    assert max(lsb) <= 1, f"largest difference {max(lsb)} LSB"
    arena = tflm.smallest_arena(path.read_bytes(), tensors[0])
    assert arena % tflm.ALIGN == 0 and tflm.runs_with(path.read_bytes(), arena, tensors[1])


def test_the_c_array_has_the_tflm_example_symbols(served):
    _, report, _ = served
    source = Path(report["forms"]["c-array"]["source"])
    header = Path(report["forms"]["c-array"]["header"])
    assert f"const unsigned char {SYMBOL}[]" in source.read_text()
    assert f"const unsigned int {SYMBOL}_len = {report['forms']['litert-int8']['bytes']};" in source.read_text()
    assert f"extern const unsigned char {SYMBOL}[];" in header.read_text()
    assert f"extern const unsigned int {SYMBOL}_len;" in header.read_text()


def test_the_presence_task_encodes_the_int8_input_as_training_normalised_it(served):
    """The export folds normalisation and the input's scale into the spec's mean/std: the task must not apply the
    scale a second time (that saturated every pixel to ±128 and left 4 grey levels)."""
    _, _, model = served
    rgb = images.load(fixture_image("vtest_120.jpg")).pixels
    grey = cv2.cvtColor(cv2.resize(rgb, (SIZE, SIZE), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    scale, zero = model.input_quantization
    expected = np.clip(np.round((grey.astype(np.float32) - 127.5) / 127.5 / scale + zero), -128, 127)
    tensor = model.tensor(rgb)
    assert len(np.unique(tensor)) > 100
    assert np.abs(tensor[0, :, :, 0].astype(np.int32) - expected).max() <= 1


def test_the_presence_task_reads_the_int8_output_as_a_probability(served, tensors):
    """Output scale 1/256, zero point −128: int8 −128…127 → 0…0.996; the two classes' probabilities sum to ~1."""
    _, _, model = served
    raw = model.session.run([tensors[0]])[0]
    assert raw.dtype == np.int8 and model.output_quantization == pytest.approx((1 / 256, -128))
    probs = (raw.astype(np.float32).reshape(-1) + 128) / 256
    assert probs.sum() == pytest.approx(1.0, abs=2 / 256)
    for name in FRAMES[:3] + FRAMES[-3:]:
        result = model.detect(images.load(fixture_image(name)))
        assert 0.0 <= result.score <= 1.0 and result.model == "presence.micro.litert"
        assert result.person == (result.score >= 0.5)
    assert model.person_score(raw) == pytest.approx(float(probs[model.person_index]))
