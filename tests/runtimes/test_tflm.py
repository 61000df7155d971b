"""The ready presence model under TensorFlow Lite Micro: same outputs as LiteRT within one LSB, and its arena."""

import numpy as np
import pytest

from tests.conftest import fixture_image
from vigil.imaging import images
from vigil.registry.presence_catalog import VWW_MLPERF_TINY
from vigil.registry.store import ModelStore
from vigil.runtimes import litert, tflm
from vigil.tasks.presence import PresenceModel

FRAMES = ["vtest_000.jpg", "vtest_060.jpg", "vtest_120.jpg", "vtest_180.jpg", "vtest_240.jpg", "vtest_300.jpg",
          "vtest_360.jpg", "person.jpg", "messi5.jpg", "dog.jpg", "horses.jpg", "giraffe.jpg", "eagle.jpg"]


@pytest.fixture(scope="module")
def vww():
    store = ModelStore()
    store.pull(VWW_MLPERF_TINY)
    path = store.path(VWW_MLPERF_TINY, "model")
    model = PresenceModel.open(store, VWW_MLPERF_TINY)
    rgbs = [images.load(fixture_image(name)).pixels for name in FRAMES]
    tensors = [model.tensor(rgb) for rgb in rgbs] + [model.tensor(rgb[:, ::-1]) for rgb in rgbs]  # and mirrored
    return path, tensors


def test_tflm_matches_litert_within_one_lsb(vww):
    """Against LiteRT's built-in int8 kernels, which TFLM's reference kernels mirror (XNNPACK, LiteRT's default,
    rounds differently: benchmarks/bench_presence.py reports by how much)."""
    path, tensors = vww
    assert len(tensors) >= 20
    reference = litert.interpreter(path, threads=1, builtin_kernels=True)
    step = tflm.litert_output_step(reference)
    micro = tflm.interpreter(path.read_bytes())
    lsb = [np.abs(tflm.run(micro, t) - litert.run(reference, [t])[0]).max() / step for t in tensors]
    assert max(lsb) <= 1.0 + 1e-6, f"largest difference {max(lsb)} LSB"


def test_the_smallest_arena_is_found_by_bisection(vww):
    path, tensors = vww
    model = path.read_bytes()
    arena = tflm.smallest_arena(model, tensors[0])
    print(f"TFLM arena for {VWW_MLPERF_TINY}: {arena} bytes")
    assert arena % tflm.ALIGN == 0 and 50_000 < arena < 1_000_000
    assert tflm.runs_with(model, arena, tensors[1])
    assert not tflm.runs_with(model, arena - tflm.ALIGN, tensors[0])
