"""How far two steps of the default detect path are from what this machine allows, measured in one process run.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_limits.py [--runs 30]

- JPEG decode of a 1080p frame at the default (reduced in the DCT domain to cover the 512 input), against decoding
  it at 1/8 scale: every coefficient is still entropy-decoded there and the inverse DCT is all but free, so that is
  the floor for any decode of this file by libjpeg-turbo.
- int8 inference of the default detector (yolov4-tiny int8, 512×288 for 16:9), as multiply-accumulates per second
  (MACs counted from the ONNX graph's convolutions), against the machine's int8 limit as onnxruntime reaches it on
  one large int8 matrix product (MatMulInteger, 1024×1024 by 1024×1024) with the same threads.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, shape_inference

from vigil.config.settings import VigilConfig
from vigil.imaging import images
from vigil.registry.store import ModelStore
from vigil.runtimes.session import open_session
from vigil.tasks.detect import ObjectDetector

from common import make_1080p_jpeg, p50_p95, table, timings_ms

MODEL = "yolov4_tiny.coco"
SIDE = 1024


def conv_macs(path: Path, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of every Conv / ConvInteger / QLinearConv node for an input of `shape`."""
    model = onnx.load(str(path))
    elem = model.graph.input[0].type.tensor_type.elem_type
    model.graph.input[0].type.CopyFrom(helper.make_tensor_type_proto(elem, shape))
    inferred = shape_inference.infer_shapes(model)
    dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]}
    weights = {init.name: list(init.dims) for init in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvInteger", "QLinearConv"):
            continue
        weight = weights.get(node.input[3 if node.op_type == "QLinearConv" else 1])
        out = dims.get(node.output[0])
        if weight and out and len(out) == 4:
            total += int(np.prod(weight)) * out[2] * out[3]  # Cout·Cin/g·kh·kw per output pixel
    return total


def int8_peak(threads: int | None, runs: int) -> float:
    """int8 MACs per second onnxruntime reaches on one large MatMulInteger."""
    a = helper.make_tensor_value_info("a", TensorProto.UINT8, [SIDE, SIDE])
    b = helper.make_tensor_value_info("b", TensorProto.INT8, [SIDE, SIDE])
    y = helper.make_tensor_value_info("y", TensorProto.INT32, [SIDE, SIDE])
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["a", "b"], ["y"])], "peak", [a, b], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "peak.onnx"
        onnx.save(model, str(path))
        session = open_session(path, "onnxruntime", threads)
        rng = np.random.default_rng(0)
        inputs = [rng.integers(0, 255, (SIDE, SIDE), dtype=np.uint8), rng.integers(-127, 127, (SIDE, SIDE),
                                                                                   dtype=np.int8)]
        ms = p50_p95(timings_ms(lambda: session.run(inputs), runs))[0]
    return SIDE ** 3 / (ms / 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    config, store = VigilConfig(), ModelStore()
    detector = ObjectDetector.load(store, MODEL, config.detect.input_size, precision="int8")
    threads = None
    with tempfile.TemporaryDirectory() as tmp:
        data = make_1080p_jpeg(Path(tmp) / "hd.jpg").read_bytes()
    side = config.detect.input_size
    ours = p50_p95(timings_ms(lambda: images.decode(data, fit=(side, side)), args.runs))[0]
    floor = p50_p95(timings_ms(lambda: images.decode(data, fit=(240, 135)), args.runs))[0]
    frame = images.decode(data, fit=(side, side))
    tensor, _ = detector.preprocess(frame.pixels)
    infer = p50_p95(timings_ms(lambda: detector.infer(tensor), args.runs))[0]
    macs = conv_macs(store.path(MODEL, "onnx"), tuple(tensor.shape))  # the fp32 graph: the same convolutions
    achieved, peak = macs / (infer / 1000), int8_peak(threads, args.runs)
    print(table(["step", "default ms", "limit ms", "how far"], [
        [f"1080p JPEG decode ({frame.pixels.shape[1]}×{frame.pixels.shape[0]}, scale {frame.scale:.3f})", ours,
         floor, f"{ours / floor:.2f}× the 1/8-scale decode"],
        [f"int8 inference {tuple(tensor.shape)}, {macs / 1e9:.2f} GMAC", infer, macs / peak * 1000,
         f"{achieved / 1e9:.1f} of {peak / 1e9:.1f} GMAC/s ({achieved / peak:.0%})"],
    ]))


if __name__ == "__main__":
    main()
