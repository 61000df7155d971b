"""fp32 ONNX from a trained classifier: NCHW float input normalised as its spec says, class probabilities out."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from vigil.registry.fetch import temporary_path
from vigil.train.archs import Deployable, TransferNet

OPSET = 17


def to_onnx(model: TransferNet, size: int, path: Path, channels: int = 3) -> Path:
    """Dynamic batch, so the serving wrapper can classify all person crops of a frame in one run."""
    module = Deployable(model).eval()
    part = temporary_path(path.parent, path.name)
    try:
        with warnings.catch_warnings():  # the TorchScript exporter warns that dynamo is the future; it needs no
            warnings.simplefilter("ignore")  # onnxscript and gives plain static graphs our quantizer handles
            torch.onnx.export(module, (torch.zeros(1, channels, size, size),), str(part), dynamo=False,
                              input_names=["input"], output_names=["probabilities"], opset_version=OPSET,
                              dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}})
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
    return path
