"""Smith's cyclical learning-rate policies against values worked out by hand from the paper's formulas."""

from __future__ import annotations

import math

import pytest

from vigil.errors import BadInput
from vigil.train.schedule import Schedule, cyclic_lr, linear_ramp

# base 0.001, max 0.006, step 10 iterations: one cycle is 20 iterations, the peak at 10, 30, 50...
BASE, TOP, STEP = 0.001, 0.006, 10


@pytest.mark.parametrize(("it", "expected"), [
    (0, 0.001),  # cycle 1, x = |0 - 2 + 1| = 1 → base
    (5, 0.0035),  # x = |0.5 - 1| = 0.5 → base + 0.005 * 0.5
    (10, 0.006),  # x = 0 → max
    (15, 0.0035),
    (20, 0.001),  # cycle 2 starts at base
    (23, 0.0025),  # cycle 2, x = |2.3 - 4 + 1| = 0.7 → 0.001 + 0.005 * 0.3
    (30, 0.006),
])
def test_triangular(it, expected):
    assert cyclic_lr(it, BASE, TOP, STEP, "triangular") == pytest.approx(expected)


@pytest.mark.parametrize(("it", "expected"), [
    (10, 0.006),  # cycle 1: full amplitude
    (30, 0.0035),  # cycle 2: half of 0.005
    (50, 0.00225),  # cycle 3: a quarter
    (45, 0.001 + 0.00125 * 0.5),  # cycle 3, x = |4.5 - 6 + 1| = 0.5
    (40, 0.001),
])
def test_triangular2_halves_each_cycle(it, expected):
    assert cyclic_lr(it, BASE, TOP, STEP, "triangular2") == pytest.approx(expected)


@pytest.mark.parametrize("it", [0, 5, 10, 27, 1000])
def test_exp_range_scales_the_triangle_by_gamma_to_the_iteration(it):
    gamma = 0.99
    cycle = math.floor(1 + it / 20)
    x = abs(it / 10 - 2 * cycle + 1)
    expected = 0.001 + 0.005 * max(0, 1 - x) * gamma ** it
    assert cyclic_lr(it, BASE, TOP, STEP, "exp_range", gamma) == pytest.approx(expected)
    assert cyclic_lr(10, BASE, TOP, STEP, "exp_range", gamma) == pytest.approx(0.001 + 0.005 * 0.99 ** 10)


def test_constant_is_the_base_rate():
    assert {Schedule("constant", 0.01, 0.0, 0)(it) for it in range(50)} == {0.01}


def test_linear_ramp_for_the_range_test():
    assert linear_ramp(0, 0.0, 1.0, 101) == 0.0
    assert linear_ramp(50, 0.0, 1.0, 101) == pytest.approx(0.5)
    assert linear_ramp(100, 0.0, 1.0, 101) == pytest.approx(1.0)


@pytest.mark.parametrize(("policy", "base", "top", "step"), [
    ("sawtooth", 0.001, 0.01, 10), ("triangular", 0.01, 0.001, 10), ("triangular", 0.001, 0.01, 0),
])
def test_bad_schedules_are_rejected(policy, base, top, step):
    with pytest.raises(BadInput):
        Schedule(policy, base, top, step)
