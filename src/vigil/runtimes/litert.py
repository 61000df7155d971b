"""LiteRT (TensorFlow Lite) interpreters, with the Coral Edge TPU delegate when it is installed."""

from __future__ import annotations

import ctypes.util
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from vigil.errors import ModelIntegrityError, NotFound

log = logging.getLogger(__name__)
EDGETPU_LIBRARY = "libedgetpu.so.1"


def edgetpu_available() -> bool:
    return ctypes.util.find_library("edgetpu") is not None or Path("/usr/lib/libedgetpu.so.1").exists()


_STDERR_LOCK = threading.Lock()


@contextmanager
def _quiet_info() -> Iterator[None]:
    """LiteRT's C++ core prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on fd 2 for every
    interpreter, and no environment variable stops it: fd 2 goes to a temporary file while one is made, and every
    other line written meanwhile (a real warning, another thread's log) is passed on to stderr afterwards."""
    with _STDERR_LOCK, tempfile.TemporaryFile() as caught:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [line for line in caught.read().splitlines(keepends=True) if not line.startswith(_INFO)]
            if kept:
                os.write(2, b"".join(kept))


_INFO = b"INFO: Created TensorFlow Lite"


def interpreter(path: Path, threads: int = 2, builtin_kernels: bool = False):
    """`builtin_kernels`: LiteRT's own int8 kernels instead of the default XNNPACK delegate (slower, ~1.4 ms vs
    0.1 ms for the 96² VWW model, but bit-exact with TensorFlow Lite Micro where XNNPACK differs by up to 31 LSB)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType, load_delegate

    delegates = []
    if path.name.endswith("_edgetpu.tflite"):
        if not edgetpu_available():
            raise NotFound(f"{path.name} is compiled for the Coral Edge TPU, but {EDGETPU_LIBRARY} is not installed "
                           "(install the libedgetpu1-std package from Coral, or use the CPU .tflite of this model)")
        delegates.append(load_delegate(EDGETPU_LIBRARY))
    try:
        resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES if builtin_kernels else OpResolverType.AUTO
        with _quiet_info():
            interp = Interpreter(model_path=str(path), num_threads=threads, experimental_delegates=delegates or None,
                                 experimental_op_resolver_type=resolver)
            interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelIntegrityError(f"{path}: LiteRT cannot load this model: {exc}") from None
    return interp


def run(interp, inputs: list[np.ndarray]) -> list[np.ndarray]:
    for detail, value in zip(interp.get_input_details(), inputs, strict=True):
        interp.set_tensor(detail["index"], value)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]
