"""Face gate models built in the test: a logistic regression on lfw_subset's pixels written as an ONNX graph (a real
face / non-face classifier, trained in well under a second), and a constant one; each registered in a store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vigil.registry.specs import InputSpec, ModelFile, ModelSpec, PathSource
from vigil.registry.store import ModelStore, sha256_of

SIDE = 25  # lfw_subset's crops
LABELS = ("face", "nonface")


def lfw_logistic() -> tuple[np.ndarray, np.ndarray]:
    """(weights (625, 2), bias (2,)) of a logistic regression on lfw_subset: 100 faces, then 100 non-faces."""
    import skimage.data
    from sklearn.linear_model import LogisticRegression

    data = skimage.data.lfw_subset().reshape(200, -1).astype(np.float32)
    y = np.r_[np.zeros(100), np.ones(100)]  # 0: face, 1: nonface (LABELS order)
    fit = LogisticRegression(C=0.1, max_iter=2000).fit(data, y)
    w = fit.coef_[0].astype(np.float32)  # the logit of class 1
    return np.stack([-w / 2, w / 2], axis=1), np.array([-fit.intercept_[0] / 2, fit.intercept_[0] / 2], np.float32)


def _graph(nodes: list, initial: dict[str, np.ndarray]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "face_gate",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(v, k) for k, v in initial.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def logistic_onnx(path: Path) -> Path:
    """NCHW float [0, 1] RGB in; grey (channel mean) → 625 pixels → softmax over (face, nonface)."""
    weights, bias = lfw_logistic()
    nodes = [helper.make_node("ReduceMean", ["images"], ["grey"], axes=[1], keepdims=0),
             helper.make_node("Reshape", ["grey", "flat_shape"], ["flat"]),
             helper.make_node("Gemm", ["flat", "w", "b"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    model = _graph(nodes, {"flat_shape": np.array([-1, SIDE * SIDE], np.int64), "w": weights, "b": bias})
    path.write_bytes(model.SerializeToString())
    return path


def constant_onnx(path: Path, face_probability: float) -> Path:
    """P(face) = `face_probability` for every input (plus 0 × the input, so the runtime reads it)."""
    nodes = [helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=0),
             helper.make_node("Reshape", ["mean", "column"], ["means"]),
             helper.make_node("Mul", ["means", "zero"], ["nothing"]),
             helper.make_node("Add", ["nothing", "const"], ["probabilities"])]
    const = np.array([[face_probability, 1 - face_probability]], np.float32)
    model = _graph(nodes, {"column": np.array([-1, 1], np.int64), "zero": np.zeros((1, 1), np.float32),
                           "const": const})
    path.write_bytes(model.SerializeToString())
    return path


def register(home: Path, name: str, model: Path, labels: tuple[str, ...] = LABELS) -> ModelStore:
    """Add the ONNX file to the store at `home` as a classify model (the manifest `vigil export` would write), pull
    it, and return the store that sees it."""
    spec = ModelSpec(
        name=name, task="classify", format="onnx", runtime="onnxruntime", labels=labels,
        input=InputSpec(width=SIDE, height=SIDE, layout="NCHW", dtype="float32", std=(255.0, 255.0, 255.0),
                        resize="stretch"),
        files={"model": ModelFile(name=model.name, sha256=sha256_of(model), size=model.stat().st_size,
                                  sources=(PathSource(path=str(model)),))},
        licence="built in the test")
    manifests = home / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    (manifests / f"{name}.json").write_text(spec.model_dump_json())
    store = ModelStore(home)
    store.pull(name)
    return store
