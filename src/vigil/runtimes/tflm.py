"""TensorFlow Lite Micro through its Python interpreter (`tflite-micro`, extra "edge"): proof that a model runs on a
microcontroller's runtime, its outputs next to LiteRT's, and the smallest tensor arena it needs. Checks only: never on
the serving path. The interpreter uses TFLM's reference kernels, as a firmware build without vendor kernels does."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np

from vigil.errors import ModelIntegrityError

ALIGN = 16  # TFLM aligns arena allocations to 16 bytes; firmware arenas are declared that way too
MAX_ARENA = 64 << 20


def interpreter(model: bytes, arena_bytes: int | None = None):
    """A TFLM interpreter with its tensors allocated (RuntimeError when the arena is too small)."""
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model, arena_size=arena_bytes or len(model) * 10)


def run(interp, tensor: np.ndarray) -> np.ndarray:
    interp.set_input(tensor, 0)
    interp.invoke()
    return interp.get_output(0)


def runs_with(model: bytes, arena_bytes: int, probe: np.ndarray) -> bool:
    try:
        run(interpreter(model, arena_bytes), probe)
    except RuntimeError:
        return False
    return True


def smallest_arena(model: bytes, probe: np.ndarray) -> int:
    """The smallest arena (a multiple of 16 bytes) in which the model allocates and runs `probe`, by bisection."""
    with _quiet_stderr():  # TFLM prints every failed allocation on the C stderr
        high = max(len(model), 1 << 16)
        while not runs_with(model, high, probe):
            high *= 2
            if high > MAX_ARENA:
                raise ModelIntegrityError(f"TFLM cannot run this model even with a {MAX_ARENA}-byte arena")
        low = 0  # invariant: `low` fails (or is nothing), `high` runs
        while high - low > ALIGN:
            mid = (low + high) // 2 // ALIGN * ALIGN
            if mid <= low:
                break
            low, high = (low, mid) if runs_with(model, mid, probe) else (mid, high)
    return high


def litert_output_step(interp, output: int = 0) -> float:
    """One least significant bit of a LiteRT interpreter's output, in the output's own units: 1 for an integer
    output; for a float output made by a final DEQUANTIZE, the scale of the int8 tensor it dequantizes."""
    detail = interp.get_output_details()[output]
    if np.issubdtype(detail["dtype"], np.integer):
        return 1.0
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    for op in interp._get_ops_details():  # the only way LiteRT's Python API names a tensor's producer
        if detail["index"] in list(op["outputs"]):
            scales = [tensors[i]["quantization"][0] for i in op["inputs"] if i in tensors and i >= 0]
            quantized = [s for s in scales if s > 0]
            if len(quantized) == 1:
                return float(quantized[0])
    raise ModelIntegrityError("the output is float and not a dequantized int8 tensor: no LSB to compare in")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
