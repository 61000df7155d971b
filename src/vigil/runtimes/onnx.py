"""onnxruntime sessions with the thread settings that suit a small CPU box."""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort

from vigil.errors import ModelIntegrityError


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for broken files
        raise ModelIntegrityError(f"{path}: onnxruntime cannot load this model: {exc}") from None


def metadata(sess: ort.InferenceSession) -> dict[str, str]:
    return dict(sess.get_modelmeta().custom_metadata_map)
