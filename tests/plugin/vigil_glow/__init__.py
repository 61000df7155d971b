"""A plugin task: the mean brightness of a frame (0-255), from numpy alone; re-entrant, no model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vigil.imaging.images import DecodedImage
from vigil.tasks.base import TaskContext, TaskDef


class GlowOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float = Field(1.0, gt=0, le=10, description="multiply the answer by this")


class GlowRunner:
    reentrant = True

    @classmethod
    def load(cls, context: TaskContext) -> GlowRunner:
        return cls()

    def prepare(self, frame: DecodedImage, options: GlowOptions) -> tuple[np.ndarray, float]:
        return frame.pixels, options.scale

    def run_batch(self, items: Sequence[tuple[np.ndarray, float]]) -> list[float]:
        return [float(pixels.mean()) * scale for pixels, scale in items]


def encode(image: str, glow: float) -> dict:
    return {"image": image, "glow": round(glow, 3)}


TASK = TaskDef(name="glow", summary="How bright the frame is", load=GlowRunner.load, encode=encode,
               options=GlowOptions)
