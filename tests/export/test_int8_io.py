"""Full int8 LiteRT with int8 input AND output, and the C array under TFLite Micro's example names (issue 10's
export, shared with the face model): a small grey MobileNetV1 trained from scratch on lfw_subset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests import person_data
from tests.face_data import write_lfw_subset
from vigil.export.carray import read_c_array
from vigil.export.quantize import calibration_pixels
from vigil.export.run import export_run
from vigil.train.classify import train_classifier
from vigil.train.run import TrainConfig


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, dict]:
    person_data.require_edge()
    root = tmp_path_factory.mktemp("int8io")
    cfg = TrainConfig(dataset=str(write_lfw_subset(root / "lfw")), arch="mobilenet_v1", width=0.25, size=32,
                      gray=True, pretrained=False, lr_schedule="triangular", scratch_epochs=3, name="face.micro")
    train_classifier(cfg, root / "run")
    return root / "run", export_run(root / "run", ["litert-int8", "c-array"], int8_io=True,
                                    c_symbol="g_person_detect_model_data")


def test_input_and_output_are_int8_with_no_float_left(exported):
    _, report = exported
    litert = report["forms"]["litert-int8"]
    assert litert["input"] == "int8" and litert["output"] == "int8"
    assert "DEQUANTIZE" not in litert["ops"] and "QUANTIZE" not in litert["ops"]
    assert litert["ops"]["SOFTMAX"] == 1


def test_int8_scores_agree_with_the_float_model(exported):
    import torch
    from safetensors.torch import load_file

    from vigil.runtimes.litert import interpreter
    from vigil.train.archs import MobileNetV1, TransferNet

    run, _ = exported
    interp = interpreter(run / "model.int8.tflite", 1)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    assert inp["shape"].tolist() == [1, 32, 32, 1]
    (in_scale, in_zero), (out_scale, out_zero) = inp["quantization"], out["quantization"]
    assert (out_scale, out_zero) == (1 / 256, -128)  # what TFLite's int8 softmax writes
    model = TransferNet(MobileNetV1(0.25, 1), 2)
    model.load_state_dict(load_file(str(run / "model.safetensors")))
    model.eval()
    grey = calibration_pixels(run, 20, seed=1).mean(-1, keepdims=True)  # close to the RGB→grey conversion
    x = (grey.astype(np.float32) - 127.5) / 127.5
    with torch.no_grad():
        ours = torch.softmax(model(torch.from_numpy(x).permute(0, 3, 1, 2)), 1).numpy()
    theirs = []
    for image in x:
        interp.set_tensor(inp["index"], np.clip(np.round(image / in_scale + in_zero), -128, 127)[None].astype(np.int8))
        interp.invoke()
        theirs.append((interp.get_tensor(out["index"])[0].astype(np.float32) - out_zero) * out_scale)
    theirs = np.array(theirs)
    assert (theirs.argmax(1) == ours.argmax(1)).mean() >= 0.9
    assert np.abs(theirs - ours).mean() < 0.1  # int8 weights and activations of a 3-epoch model, then 1/256 steps


def test_c_array_uses_the_tflm_example_names(exported):
    run, report = exported
    source = Path(report["forms"]["c-array"]["source"])
    assert read_c_array(source) == (run / "model.int8.tflite").read_bytes()
    assert "alignas(16) const unsigned char g_person_detect_model_data[]" in source.read_text()
    assert "const unsigned int g_person_detect_model_data_len = " in source.read_text()
    assert "extern const unsigned char g_person_detect_model_data[];" in source.with_suffix(".h").read_text()
