"""Convert dlib's face-recognition ResNet (dlib_face_recognition_resnet_model_v1.dat) to ONNX, once, at pull.

Why: the `dlib-bin` wheel is built without BLAS, so its CNN runs ~65 ms a face on two cores; the same
weights in onnxruntime run several times faster. The converted graph is checked against dlib's own
descriptors in the tests (max abs difference ~1e-5).

The network (dlib's dnn_face_recognition_ex.cpp): conv 7×7/2 → affine → relu → max-pool 3×3/2, then 29
residual blocks (32, 64, 128, 256, 256 filters) of conv 3×3 → affine → relu → conv 3×3 → affine, with
down-sampling blocks adding an average-pooled shortcut, global average pool and a 128×256 linear layer.
dlib pads a strided convolution or pool by 0 and a stride-1 one by k//2, and adds tensors of different
sizes where they overlap (the rest is zero-padded): both reproduced here. dlib writes tensors as a packed
int header (version 2, n, k, nr, nc) followed by little-endian float32s; the layers' parameter tensors are
found by that header, in network order from the input up, and their sizes are checked against the
architecture, so a different or damaged file is refused instead of converted wrongly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from vigil.errors import ModelIntegrityError
from vigil.registry.onnx_graph import GraphBuilder

OPSET = 18
CONVERTER_VERSION = 1  # bump when the graph changes, so cached conversions are redone
MEAN_RGB = (122.782, 117.001, 104.298)  # dlib input_rgb_image defaults; pixels are then divided by 256
# (filters, stride of the first block) per residual block, from the input up
BLOCKS = [(32, 1)] * 3 + [(64, 2)] + [(64, 1)] * 3 + [(128, 2)] + [(128, 1)] * 2 + [(256, 2)] + [(256, 1)] * 2 + [
    (256, 2)]


def _unpack_int(data: bytes, pos: int) -> tuple[int | None, int]:
    head = data[pos]
    size = head & 0x0F
    if size > 8 or head & 0x70:
        return None, pos
    value = int.from_bytes(data[pos + 1 : pos + 1 + size], "little")
    return (-value if head & 0x80 else value), pos + 1 + size


def _tensors(data: bytes, sizes: list[int]) -> list[np.ndarray]:
    """The parameter tensors of the expected sizes, in file order."""
    out, pos, want = [], 0, 0
    while pos < len(data) - 8 and want < len(sizes):
        version, p = _unpack_int(data, pos)
        if version == 2:
            dims = []
            for _ in range(4):
                d, p = _unpack_int(data, p)
                if d is None or d < 0:
                    break
                dims.append(d)
            if len(dims) == 4 and int(np.prod(dims)) == sizes[want] and p + 4 * sizes[want] <= len(data):
                out.append(np.frombuffer(data, "<f4", sizes[want], p).copy())
                pos, want = p + 4 * sizes[want], want + 1
                continue
        pos += 1
    if want < len(sizes):
        raise ModelIntegrityError(f"not dlib's face ResNet: found {want} of its {len(sizes)} parameter tensors")
    return out


def _layer_shapes() -> list[tuple[int, int, int]]:
    """(filters, inputs, kernel) of every convolution, input first."""
    shapes, channels = [(32, 3, 7)], 32
    for filters, _ in BLOCKS:
        shapes += [(filters, channels, 3), (filters, filters, 3)]
        channels = filters
    return shapes


def _conv_affine(g: GraphBuilder, x: str, conv: np.ndarray, affine: np.ndarray, shape: tuple[int, int, int],
                 stride: int) -> str:
    """Convolution followed by dlib's affine layer (gamma, beta), folded into one Conv."""
    filters, inputs, k = shape
    weight = conv[: filters * inputs * k * k].reshape(filters, inputs, k, k)
    bias = conv[filters * inputs * k * k :]
    gamma, beta = affine[:filters], affine[filters:]
    pad = 0 if stride != 1 else k // 2
    return g.op("Conv", [x, g.const("w", (weight * gamma[:, None, None, None]).astype(np.float32)),
                         g.const("b", (bias * gamma + beta).astype(np.float32))],
                kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)


def _add_overlapping(g: GraphBuilder, block: str, shortcut: str, extra_channels: int, extra_side: int) -> str:
    """dlib's add of different-sized tensors: zero-pad both to the larger size (at the end), then add."""
    if extra_side:
        block = g.op("Pad", [block, g.const("pads", np.array([0, 0, 0, 0, 0, 0, extra_side, extra_side], np.int64))])
    if extra_channels:
        shortcut = g.op("Pad", [shortcut, g.const("pads", np.array([0, 0, 0, 0, 0, extra_channels, 0, 0], np.int64))])
    return g.op("Add", [block, shortcut])


def _forward(g: GraphBuilder, x: str, params: list[np.ndarray], side: int) -> str:
    shapes = _layer_shapes()
    x = g.op("Relu", [_conv_affine(g, x, params[0], params[1], shapes[0], 2)])
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2])
    side, channels = ((side - 7) // 2 + 1 - 3) // 2 + 1, 32
    for i, (filters, stride) in enumerate(BLOCKS):
        conv1, aff1, conv2, aff2 = params[2 + 4 * i : 6 + 4 * i]
        y = g.op("Relu", [_conv_affine(g, x, conv1, aff1, shapes[1 + 2 * i], stride)])
        y = _conv_affine(g, y, conv2, aff2, shapes[2 + 2 * i], 1)
        if stride == 1:
            x = g.op("Relu", [g.op("Add", [y, x])])
            continue
        pooled = g.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
        conv_side, pool_side = (side - 3) // 2 + 1, (side - 2) // 2 + 1
        x = g.op("Relu", [_add_overlapping(g, y, pooled, filters - channels, pool_side - conv_side)])
        side, channels = max(conv_side, pool_side), filters
    return g.op("GlobalAveragePool", [x])


def dlib_resnet_to_onnx(dat_path: Path, out_path: Path, side: int = 150) -> None:
    """Input: uint8 NHWC RGB aligned chips (n, 150, 150, 3). Output: (n, 128) float32 descriptors."""
    shapes = _layer_shapes()
    sizes = [n for f, i, k in shapes for n in (f * i * k * k + f, 2 * f)] + [256 * 128]
    params = _tensors(dat_path.read_bytes(), sizes)
    g = GraphBuilder()
    x = g.op("Cast", ["chips"], to=TensorProto.FLOAT)
    x = g.op("Transpose", [x], perm=[0, 3, 1, 2])
    x = g.op("Sub", [x, g.const("mean", np.array(MEAN_RGB, np.float32).reshape(1, 3, 1, 1))])
    x = g.op("Div", [x, g.const("scale", np.array(256.0, np.float32))])
    x = _forward(g, x, params, side)
    x = g.op("Flatten", [x])
    out = g.op("MatMul", [x, g.const("fc", params[-1].reshape(256, 128))])
    g.nodes[-1].output[0] = "descriptors"
    del out
    graph = helper.make_graph(
        g.nodes, "dlib_face_resnet",
        [helper.make_tensor_value_info("chips", TensorProto.UINT8, ["n", side, side, 3])],
        [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["n", 128])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vigil")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(out_path))
