"""The one interface model wrappers see: a session that maps input arrays to output arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class Session(Protocol):
    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]: ...

    @property
    def metadata(self) -> dict[str, str]: ...


class OnnxSession:
    def __init__(self, path: Path, threads: int | None = None) -> None:
        from vigil.runtimes import onnx

        self._sess = onnx.session(path, threads)
        self._inputs = [i.name for i in self._sess.get_inputs()]
        self.input_shape = self._sess.get_inputs()[0].shape
        self.output_names = [o.name for o in self._sess.get_outputs()]
        self.metadata = onnx.metadata(self._sess)

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return self._sess.run(None, dict(zip(self._inputs, inputs, strict=True)))


class LiteRTSession:
    def __init__(self, path: Path, threads: int = 2) -> None:
        from vigil.runtimes import litert

        self._interp = litert.interpreter(path, threads)
        detail = self._interp.get_input_details()[0]
        self.input_shape = [int(d) for d in detail["shape"]]
        self.input_dtype = detail["dtype"]
        self.input_quantization = detail.get("quantization", (0.0, 0))
        self.output_quantization = [d.get("quantization", (0.0, 0)) for d in self._interp.get_output_details()]
        self.metadata: dict[str, str] = {}

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        from vigil.runtimes import litert

        return litert.run(self._interp, inputs)


def open_session(path: Path, runtime: str, threads: int | None = None) -> Session:
    if runtime == "onnxruntime":
        return OnnxSession(path, threads)
    if runtime == "litert":
        return LiteRTSession(path, threads or 2)
    raise ValueError(f"no session type for runtime {runtime!r}")
