"""Learning-rate policies of Smith, "Cyclical Learning Rates for Training Neural Networks" (WACV 2017), per
iteration: `triangular`, `triangular2` (the amplitude halves every cycle), `exp_range` (scaled by gamma**it), and
`constant` (the fixed rate they are compared against)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from vigil.errors import BadInput

POLICIES = ("triangular", "triangular2", "exp_range", "constant")


def cyclic_lr(it: int, base: float, top: float, step: int, policy: str = "triangular",
              gamma: float = 0.99994) -> float:
    """The paper's formulas: cycle = floor(1 + it / (2·step)), x = |it / step − 2·cycle + 1|,
    lr = base + (top − base)·max(0, 1 − x)·scale, scale 1 (triangular), 1 / 2**(cycle − 1) (triangular2) or
    gamma**it (exp_range)."""
    if policy == "constant":
        return base
    cycle = math.floor(1 + it / (2 * step))
    x = abs(it / step - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": gamma ** it}[policy]
    return base + (top - base) * max(0.0, 1 - x) * scale


@dataclass(frozen=True)
class Schedule:
    policy: str
    base: float
    top: float
    step: int
    gamma: float = 0.99994

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise BadInput(f"unknown --lr-schedule {self.policy!r}; choose one of {', '.join(POLICIES)}")
        if self.policy != "constant" and (self.step < 1 or self.top < self.base or self.base <= 0):
            raise BadInput(f"--lr-schedule {self.policy} needs 0 < --base-lr <= --max-lr and --step-size >= 1")

    def __call__(self, it: int) -> float:
        return cyclic_lr(it, self.base, self.top, self.step, self.policy, self.gamma)


def linear_ramp(it: int, start: float, end: float, iterations: int) -> float:
    """The LR range test's rate: from start to end linearly over `iterations`."""
    return start + (end - start) * min(1.0, it / max(1, iterations - 1))
