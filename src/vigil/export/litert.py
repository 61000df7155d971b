"""Full-integer int8 LiteRT (.tflite) with litert-torch (extra "edge"; no TensorFlow): PT2E static quantization
calibrated on training images one at a time, NHWC int8 input (the seed's full-integer export), per-tensor weights
(smaller, and what the Edge TPU compiler wants)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from vigil.errors import NotFound
from vigil.registry.fetch import temporary_path
from vigil.registry.specs import InputSpec
from vigil.train.archs import Deployable, TransferNet

log = logging.getLogger(__name__)


def _require():
    try:
        import litert_torch
        from litert_torch.quantize import pt2e_quantizer
        from litert_torch.quantize.quant_config import QuantConfig
        from torchao.quantization.pt2e import quantize_pt2e
    except ImportError as exc:
        raise NotFound(f"LiteRT export needs the edge extra: pip install 'vigil[edge]' ({exc})") from None
    return litert_torch, pt2e_quantizer, QuantConfig, quantize_pt2e


def to_litert_int8(model: TransferNet, pixels: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...],
                   out: Path) -> Path:
    """pixels: calibration images, RGB uint8 NHWC at the model's input size."""
    litert_torch, pq, QuantConfig, quantize_pt2e = _require()
    module = Deployable(model.eval(), channels_last=True).eval()
    x = torch.from_numpy((pixels.astype(np.float32) - np.float32(mean)) / np.float32(std))
    sample = (x[:1],)
    quantizer = pq.PT2EQuantizer().set_global(pq.get_symmetric_quantization_config(is_per_channel=False))
    # strict (TorchDynamo) export records each op's Python source, which the quantizer's ADD annotation needs;
    # non-strict export leaves residual ADDs, the last ReLU6 and the pooling in float
    prepared = quantize_pt2e.prepare_pt2e(torch.export.export(module, sample, strict=True).module(), quantizer)
    with torch.no_grad():
        for i in range(len(x)):  # one at a time: the exported graph has batch 1
            prepared(x[i:i + 1])
    converted = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
    part = temporary_path(out.parent, out.name)
    try:
        with stdout_to_stderr():
            edge = litert_torch.convert(converted, sample, quant_config=QuantConfig(pt2e_quantizer=quantizer))
            edge.export(str(part))
        part.replace(out)
    finally:
        part.unlink(missing_ok=True)
    return out


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """The converter prints progress on stdout (Python and C++); `--json` promises stdout holds only the JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def litert_input_spec(path: Path, mean: tuple[float, ...], std: tuple[float, ...], colour: str = "RGB"
                      ) -> InputSpec:
    """The int8 input folds normalisation and quantization together: q = (pixel − mean′) / std′ with
    mean′ = mean − zero_point·std·scale and std′ = std·scale, so serving feeds pixels through `to_tensor`."""
    from vigil.runtimes.litert import interpreter

    detail = interpreter(path, 1).get_input_details()[0]
    _, height, width, _ = detail["shape"]
    scale, zero = detail["quantization"]
    if detail["dtype"] == np.float32:
        return InputSpec(width=width, height=height, layout="NHWC", dtype="float32", mean=mean, std=std,
                         resize="stretch", colour=colour)
    return InputSpec(width=int(width), height=int(height), layout="NHWC", dtype="int8", resize="stretch", colour=colour,
                     mean=tuple(m - zero * s * scale for m, s in zip(mean, std, strict=True)),
                     std=tuple(s * scale for s in std))


def output_dtype(path: Path) -> str:
    from vigil.runtimes.litert import interpreter

    return np.dtype(interpreter(path, 1).get_output_details()[0]["dtype"]).name


def op_counts(path: Path) -> dict[str, int]:
    """Which operators the file holds: QUANTIZE/DEQUANTIZE show where it leaves int8."""
    from vigil.runtimes.litert import interpreter

    return dict(Counter(d["op_name"] for d in interpreter(path, 1)._get_ops_details()))


SOFTMAX_SCALE, SOFTMAX_ZERO = 1 / 256, -128  # what TFLite's int8 softmax kernel requires of its output


def int8_io(path: Path) -> Path:
    """Rewrite a converted model so its output is int8 as well (TFLite Micro's person-detection example reads
    int8 scores): the converter leaves the closing softmax in float behind a DEQUANTIZE; the softmax is run on the
    int8 logits instead, with the output quantization its int8 kernel requires. A float input behind a QUANTIZE is
    made int8 the same way."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    graph, codes = model.subgraphs[0], model.operatorCodes
    kind = lambda op: max(codes[op.opcodeIndex].builtinCode, codes[op.opcodeIndex].deprecatedBuiltinCode)  # noqa: E731
    producer = {int(op.outputs[0]): op for op in graph.operators}
    softmax = producer.get(int(graph.outputs[0]))
    if softmax is not None and kind(softmax) == schema.BuiltinOperator.SOFTMAX:
        dequant = producer.get(int(softmax.inputs[0]))
        if dequant is not None and kind(dequant) == schema.BuiltinOperator.DEQUANTIZE:
            softmax.inputs = [int(dequant.inputs[0])]
            graph.operators.remove(dequant)
            out = graph.tensors[int(softmax.outputs[0])]
            out.type = schema.TensorType.INT8
            out.quantization = schema.QuantizationParametersT()
            out.quantization.scale, out.quantization.zeroPoint = [SOFTMAX_SCALE], [SOFTMAX_ZERO]
    first = next((op for op in graph.operators if int(graph.inputs[0]) in [int(i) for i in op.inputs]), None)
    if first is not None and kind(first) == schema.BuiltinOperator.QUANTIZE:
        graph.inputs = [int(first.outputs[0])]
        graph.operators.remove(first)
    builder = flatbuffers.Builder(len(path.read_bytes()) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    part = temporary_path(path.parent, path.name)
    try:
        part.write_bytes(builder.Output())
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
    return path
