"""Static int8 quantization of the fp32 ONNX with onnxruntime (QDQ, per-channel weights), calibrated on images
drawn from the run's own training split and preprocessed exactly as the serving wrapper does."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from vigil.ops.letterbox import stretch
from vigil.ops.tensor import to_tensor
from vigil.store.fetch import temporary_path
from vigil.store.specs import InputSpec
from vigil.train.data import load_image

log = logging.getLogger(__name__)
CALIBRATION_IMAGES = 100  # the seed's representative dataset size


def calibration_pixels(run_dir: Path, count: int = CALIBRATION_IMAGES, size: int | None = None,
                       seed: int = 0) -> np.ndarray:
    """Up to `count` training images of the run (never its test split), RGB uint8 stretched to the input size."""
    split = json.loads((run_dir / "split.json").read_text())
    size = size or json.loads((run_dir / "config.json").read_text())["size"]
    rows = split["train"]
    chosen = np.random.default_rng(seed).permutation(len(rows))[:count]
    return np.stack([load_image(rows[i][0], size) for i in chosen])


class _Reader(CalibrationDataReader):
    def __init__(self, name: str, pixels: np.ndarray, spec: InputSpec):
        self._rows = iter([{name: to_tensor(stretch(p, spec.width, spec.height)[0], spec)} for p in pixels])

    def get_next(self) -> dict | None:
        return next(self._rows, None)


def quantize_onnx(fp32: Path, out: Path, pixels: np.ndarray, spec: InputSpec) -> Path:
    prepared = temporary_path(out.parent, "prepared.onnx")
    part = temporary_path(out.parent, out.name)
    try:
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(part), _Reader("input", pixels, spec), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        part.replace(out)
    finally:
        prepared.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
    return out
