"""The presence task on real frames with the ready MLPerf Tiny VWW model."""

import numpy as np
import pytest

from tests.conftest import fixture_image
from vigil.config.settings import VigilConfig
from vigil.errors import NotFound
from vigil.formats import native
from vigil.imaging import images
from vigil.registry.presence_catalog import VWW_MLPERF_TINY
from vigil.registry.store import ModelStore
from vigil.tasks.base import TaskContext
from vigil.tasks.presence import DECODE_SIDE, TASK, PresenceGate, PresenceModel, PresenceOptions


@pytest.fixture(scope="module")
def presence_store() -> ModelStore:
    store = ModelStore()
    store.pull(VWW_MLPERF_TINY)  # a no-op after `make models`
    return store


@pytest.fixture(scope="module")
def model(presence_store) -> PresenceModel:
    return TASK.load(TaskContext(VigilConfig(), presence_store))


def _frame(name: str) -> images.DecodedImage:
    return images.load(fixture_image(name), fit=(DECODE_SIDE, DECODE_SIDE))


@pytest.mark.parametrize(("name", "person"), [
    ("messi5.jpg", True), ("vtest_360.jpg", True), ("giraffe.jpg", False), ("horses.jpg", False),
])
def test_person_or_not_on_real_frames(model, name, person):
    result = model.detect(_frame(name))
    assert result.person is person
    assert 0.0 <= result.score <= 1.0 and result.model == VWW_MLPERF_TINY


def test_a_batch_keeps_order_and_the_threshold_is_per_request(model):
    frames = [_frame("messi5.jpg"), _frame("giraffe.jpg")]
    strict = PresenceOptions(min_score=1.0)
    out = model.run_batch([model.prepare(frames[0]), model.prepare(frames[1]), model.prepare(frames[0], strict)])
    assert [r.person for r in out] == [True, False, False]
    assert out[0].score == out[2].score > out[1].score


def test_the_input_is_the_whole_frame_stretched_as_float_pixels(model):
    assert (model.height, model.width, model.channels, model.input_dtype) == (96, 96, 3, np.float32)
    tensor = model.tensor(np.full((300, 900, 3), 200, np.uint8))
    assert tensor.shape == (1, 96, 96, 3) and tensor.dtype == np.float32 and np.all(tensor == 200.0)


class _Int8Session:
    """Routing only: what an int8-in/int8-out export declares."""

    input_shape = (1, 96, 96, 1)
    input_dtype = np.int8
    input_quantization = (1.0, -128)
    output_quantization = ((1 / 256, -128),)

    def run(self, inputs):
        return [np.array([[-128 + 192, -128 + 64]], np.int8)]


def test_an_int8_grayscale_model_gets_quantized_gray_input_and_dequantized_output(presence_store):
    model = PresenceModel(presence_store.spec(VWW_MLPERF_TINY), _Int8Session())
    tensor = model.tensor(np.full((50, 50, 3), 255, np.uint8))
    assert tensor.shape == (1, 96, 96, 1) and tensor.dtype == np.int8 and np.all(tensor == 127)
    assert model.run_batch([model.prepare(images.DecodedImage(np.zeros((9, 9, 3), np.uint8), 9, 9))])[0].score == 0.75


def test_loading_never_pulls(tmp_path):
    with pytest.raises(NotFound, match=f"vigil models pull {VWW_MLPERF_TINY}"):
        PresenceModel.open(ModelStore(tmp_path), VWW_MLPERF_TINY)


def test_the_native_json_entry(model):
    entry = TASK.encode("messi5.jpg", model.detect(_frame("messi5.jpg")))
    assert set(entry) == {"image", "person", "score", "model"} and entry["person"] is True
    assert entry == native.presence("messi5.jpg", model.detect(_frame("messi5.jpg")))
    assert TASK.path == "/v2/presence" and TASK.models(VigilConfig()) == (VWW_MLPERF_TINY,)


def test_the_gate_runs_the_detector_only_on_frames_it_lets_through(model):
    gate = PresenceGate(model, below=0.05)
    frames = [_frame("giraffe.jpg"), _frame("messi5.jpg"), _frame("vtest_060.jpg")]
    asked: list[list[int]] = []

    def detect(keep):
        asked.append(keep)
        return [f"found {i}" for i in keep]

    out = gate.run(frames, detect)
    assert asked == [[1, 2]] and gate.skipped == 1
    assert len(out[0]) == 0 and "class_name" in out[0].data and out[1:] == ["found 1", "found 2"]


def test_the_gate_is_off_by_default(presence_store):
    assert PresenceGate.from_config(VigilConfig(), presence_store) is None
    on = PresenceGate.from_config(VigilConfig(detect={"presence_gate": 0.05}), presence_store)
    assert on is not None and on.below == 0.05


def test_the_pipeline_with_a_gate_skips_the_detector_on_an_empty_frame(store, presence_store):
    from vigil.execute.local import Inline

    pipe = Inline(VigilConfig(detect={"presence_gate": 0.05}), store).setup()
    giraffe, _ = pipe.detect(fixture_image("giraffe.jpg"))
    messi, _ = pipe.detect(fixture_image("messi5.jpg"))
    assert pipe.runner("detect").gate is not None and pipe.runner("detect").gate.skipped == 1
    assert len(giraffe.detections) == 0 and giraffe.ok
    assert "person" in set(messi.detections.data["class_name"])
