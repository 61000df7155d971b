"""Convert a darknet (cfg + weights) YOLO network to ONNX, once, at pull time.

The ONNX graph takes uint8 NHWC RGB pixels of any height and width that are multiples of 32 and
returns the raw map of each [yolo] head; the head parameters (anchors, scale_x_y, classes) travel
inside the file as metadata, so the decoder reads them instead of guessing. Batch norm is folded
into the convolutions, which is what makes onnxruntime faster than OpenCV's darknet importer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from vigil.errors import ModelIntegrityError
from vigil.registry.onnx_graph import GraphBuilder

CONVERTER_VERSION = 1  # bump when the graph this module writes changes, so caches convert again
OPSET = 18
HEADS_KEY = "vigil.yolo_heads"
BN_EPSILON = 1e-5


def parse_cfg(text: str) -> list[tuple[str, dict[str, str]]]:
    sections: list[tuple[str, dict[str, str]]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            sections.append((line.strip("[]").strip(), {}))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1][1][key.strip()] = value.strip()
    if not sections or sections[0][0] not in ("net", "network"):
        raise ModelIntegrityError("darknet cfg must start with a [net] section")
    return sections


class _Weights:
    def __init__(self, path: Path) -> None:
        raw = path.read_bytes()
        major, minor, _ = np.frombuffer(raw[:12], dtype=np.int32)
        offset = 20 if (major * 10 + minor) >= 2 else 16  # "seen" became int64 in darknet 0.2
        self.values = np.frombuffer(raw[offset:], dtype=np.float32)
        self.pos = 0

    def take(self, count: int) -> np.ndarray:
        if self.pos + count > len(self.values):
            raise ModelIntegrityError("darknet weights file is shorter than its cfg needs (truncated or mismatched)")
        out = self.values[self.pos : self.pos + count]
        self.pos += count
        return out


def _activation(g: GraphBuilder, x: str, kind: str) -> str:
    if kind == "leaky":
        return g.op("LeakyRelu", [x], alpha=0.1)
    if kind == "linear":
        return x
    if kind == "logistic":
        return g.op("Sigmoid", [x])
    if kind == "relu":
        return g.op("Relu", [x])
    if kind == "mish":
        return g.op("Mish", [x])
    raise ModelIntegrityError(f"darknet activation {kind!r} is not supported")


def _conv(g: GraphBuilder, x: str, c_in: int, opts: dict[str, str], weights: _Weights) -> tuple[str, int]:
    filters, size = int(opts["filters"]), int(opts.get("size", 1))
    stride, groups = int(opts.get("stride", 1)), int(opts.get("groups", 1))
    pad = int(opts.get("padding", size // 2 if int(opts.get("pad", 0)) else 0))
    bias = weights.take(filters).copy()
    if int(opts.get("batch_normalize", 0)):
        scale, mean, var = weights.take(filters), weights.take(filters), weights.take(filters)
        factor = scale / np.sqrt(var + BN_EPSILON)
        bias = bias - mean * factor
    else:
        factor = np.ones(filters, np.float32)
    kernel = weights.take(filters * (c_in // groups) * size * size).reshape(filters, c_in // groups, size, size)
    kernel = (kernel * factor[:, None, None, None]).astype(np.float32)
    y = g.op("Conv", [x, g.const("w", kernel), g.const("b", bias.astype(np.float32))],
             kernel_shape=[size, size], strides=[stride, stride], pads=[pad] * 4, group=groups)
    return _activation(g, y, opts.get("activation", "logistic")), filters


def _maxpool(g: GraphBuilder, x: str, opts: dict[str, str]) -> str:
    stride = int(opts.get("stride", 1))
    size = int(opts.get("size", stride))
    padding = int(opts.get("padding", size - 1))
    begin, end = padding // 2, padding - padding // 2
    return g.op("MaxPool", [x], kernel_shape=[size, size], strides=[stride, stride], pads=[begin, begin, end, end])


def _route(g: GraphBuilder, index: int, opts: dict[str, str], outs: list[str], chans: list[int]) -> tuple[str, int]:
    sources = [int(v) for v in opts["layers"].split(",")]
    sources = [s if s >= 0 else index + s for s in sources]
    groups, group_id = int(opts.get("groups", 1)), int(opts.get("group_id", 0))
    if groups > 1:
        if len(sources) != 1:
            raise ModelIntegrityError("route with groups takes exactly one layer")
        part = chans[sources[0]] // groups
        starts, ends = g.const("s", np.array([part * group_id])), g.const("e", np.array([part * (group_id + 1)]))
        return g.op("Slice", [outs[sources[0]], starts, ends, g.const("ax", np.array([1]))]), part
    if len(sources) == 1:
        return outs[sources[0]], chans[sources[0]]
    return g.op("Concat", [outs[s] for s in sources], axis=1), sum(chans[s] for s in sources)


def _yolo_head(opts: dict[str, str]) -> dict:
    if int(opts.get("new_coords", 0)):
        raise ModelIntegrityError("[yolo] new_coords=1 (scaled-YOLOv4) is not supported")
    anchors = [float(v) for v in opts["anchors"].split(",")]
    pairs = [anchors[i : i + 2] for i in range(0, len(anchors), 2)]
    mask = [int(v) for v in opts.get("mask", ",".join(map(str, range(len(pairs))))).split(",")]
    return {"anchors": [pairs[m] for m in mask], "classes": int(opts["classes"]),
            "scale_x_y": float(opts.get("scale_x_y", 1.0))}


def apply_overrides(sections: list[tuple[str, dict[str, str]]], overrides: dict[str, str]) -> None:
    """Correct a published cfg in place: '<kind>.<n>.<key>' addresses the n-th section of that kind."""
    for address, value in overrides.items():
        kind, index, key = address.split(".", 2)
        matching = [opts for name, opts in sections if name == kind]
        if int(index) >= len(matching):
            raise ModelIntegrityError(f"cfg override {address!r}: the cfg has only {len(matching)} [{kind}] sections")
        matching[int(index)][key] = value


def darknet_to_onnx(cfg_path: Path, weights_path: Path, out_path: Path,
                    overrides: dict[str, str] | None = None) -> None:
    sections = parse_cfg(cfg_path.read_text())
    apply_overrides(sections, overrides or {})
    weights = _Weights(weights_path)
    g = GraphBuilder()
    pixels = "images"
    x = g.op("Transpose", [g.op("Mul", [g.op("Cast", [pixels], to=TensorProto.FLOAT),
                                        g.const("inv255", np.array(1 / 255, np.float32))])], perm=[0, 3, 1, 2])
    channels = int(sections[0][1].get("channels", 3))
    outs: list[str] = []
    chans: list[int] = []
    heads, head_outputs = [], []
    for index, (kind, opts) in enumerate(sections[1:]):
        prev, c_prev = (outs[-1], chans[-1]) if outs else (x, channels)
        if kind == "convolutional":
            y, c = _conv(g, prev, c_prev, opts, weights)
        elif kind == "maxpool":
            y, c = _maxpool(g, prev, opts), c_prev
        elif kind == "route":
            y, c = _route(g, index, opts, outs, chans)
        elif kind == "upsample":
            s = float(opts.get("stride", 2))
            y = g.op("Resize", [prev, "", g.const("sc", np.array([1, 1, s, s], np.float32))], mode="nearest",
                     coordinate_transformation_mode="asymmetric", nearest_mode="floor")
            c = c_prev
        elif kind == "shortcut":
            other = int(opts["from"])
            y = _activation(g, g.op("Add", [prev, outs[index + other if other < 0 else other]]),
                            opts.get("activation", "linear"))
            c = c_prev
        elif kind == "yolo":
            heads.append(_yolo_head(opts))
            head_outputs.append(prev)
            y, c = prev, c_prev
        else:
            raise ModelIntegrityError(f"darknet layer [{kind}] is not supported")
        outs.append(y)
        chans.append(c)
    if weights.pos != len(weights.values):
        raise ModelIntegrityError(f"darknet weights file has {len(weights.values) - weights.pos} values left over: "
                                  "it does not belong to this cfg")
    if not heads:
        raise ModelIntegrityError("darknet cfg has no [yolo] layer")
    _save(g, pixels, head_outputs, heads, out_path)


def _save(g: GraphBuilder, pixels: str, head_outputs: list[str], heads: list[dict], out_path: Path) -> None:
    names = [f"yolo_{i}" for i in range(len(heads))]
    for src, dst in zip(head_outputs, names, strict=True):
        g.nodes.append(helper.make_node("Identity", [src], [dst]))
    graph = helper.make_graph(
        g.nodes, "darknet_yolo",
        [helper.make_tensor_value_info(pixels, TensorProto.UINT8, ["batch", "height", "width", 3])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", None, None, None]) for n in names],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vigil")
    model.ir_version = 8  # readable by onnxruntime releases back to 1.10
    helper.set_model_props(model, {HEADS_KEY: json.dumps(heads)})
    onnx.checker.check_model(model)
    out_path.write_bytes(model.SerializeToString())
