"""A small ONNX graph builder shared by the converters that run at pull (darknet, dlib), and the clean-up of graphs
that declare inputs they never read (SFace)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper


@dataclass
class GraphBuilder:
    nodes: list = field(default_factory=list)
    inits: list = field(default_factory=list)
    count: int = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, prefix: str, array: np.ndarray) -> str:
        """Add `array` as an initializer and return its tensor name."""
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs) -> str:
        """Add one node with a single, freshly named output and return that name."""
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


CONVERTER_VERSION = 1  # of without_unused_inputs: bump when what it writes changes


def without_unused_inputs(src: Path, out: Path) -> None:
    """`src` with the graph inputs no node reads removed, and initializers no longer listed as inputs (some
    exporters declare every weight an input: onnxruntime then cannot fold them, and a caller must feed only the
    real input). Nodes and weights are unchanged."""
    model = onnx.load(str(src))
    graph = model.graph
    used = {name for node in graph.node for name in node.input}
    weights = {init.name for init in graph.initializer}
    keep = [i for i in graph.input if i.name in used and i.name not in weights]
    del graph.input[:]
    graph.input.extend(keep)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
