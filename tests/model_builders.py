"""Tiny models built in the test whose outputs are known: they prove a decoder maps real runtime
outputs to the right boxes, where no real weights in that layout exist here."""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def constant_onnx(path: Path, output: np.ndarray, input_shape: list[int]) -> Path:
    """An ONNX model with a float32 NCHW image input whose single output is `output` (plus 0 × the input,
    so the runtime really reads the image)."""
    zero = helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0)
    scaled = helper.make_node("Mul", ["mean", "zero"], ["nothing"])
    out = helper.make_node("Add", ["const", "nothing"], ["output0"])
    graph = helper.make_graph(
        [zero, scaled, out], "constant_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
        [numpy_helper.from_array(output.astype(np.float32), "const"),
         numpy_helper.from_array(np.array(0, np.float32), "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def constant_ssd_tflite(path: Path, outputs: list[np.ndarray], side: int = 32) -> Path:
    """A TFLite model with a uint8 (1, side, side, 3) input and four float32 outputs equal to `outputs`
    (each computed by an ADD of the constant and zeros), in the Coral SSD layout."""
    from ai_edge_litert import schema_py_generated as fb

    model, graph = fb.ModelT(), fb.SubGraphT()
    model.version, model.buffers, model.operatorCodes = 3, [fb.BufferT()], [fb.OperatorCodeT()]
    model.operatorCodes[0].builtinCode = model.operatorCodes[0].deprecatedBuiltinCode = fb.BuiltinOperator.ADD
    graph.tensors, graph.operators = [], []

    def tensor(name: str, shape: tuple[int, ...], kind: int, data: np.ndarray | None = None) -> int:
        t = fb.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), kind, 0
        if data is not None:
            buffer = fb.BufferT()
            buffer.data = np.frombuffer(data.astype(np.float32).tobytes(), np.uint8)
            model.buffers.append(buffer)
            t.buffer = len(model.buffers) - 1
        graph.tensors.append(t)
        return len(graph.tensors) - 1

    graph.inputs = [tensor("image", (1, side, side, 3), fb.TensorType.UINT8)]
    graph.outputs = []
    for i, value in enumerate(outputs):
        a = tensor(f"const_{i}", value.shape, fb.TensorType.FLOAT32, value)
        b = tensor(f"zero_{i}", value.shape, fb.TensorType.FLOAT32, np.zeros_like(value))
        out = tensor(f"output_{i}", value.shape, fb.TensorType.FLOAT32)
        op = fb.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [a, b], [out]
        op.builtinOptionsType, op.builtinOptions = fb.BuiltinOptions.AddOptions, fb.AddOptionsT()
        graph.operators.append(op)
        graph.outputs.append(out)
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path
