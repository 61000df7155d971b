"""A task defined outside `src/`: mean brightness of a frame, through a fake session. Registering it must give a
/v2 route, `vigil run` JSON and a metrics label without any change to the engine."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vigil.imaging.images import DecodedImage
from vigil.tasks.base import TaskContext, TaskDef


class BrightnessOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float = Field(1.0, gt=0, le=10, description="multiply the answer by this")


class MeanSession:
    """Stands in for a runtime session: one output, the mean of each input in the batch."""

    def __init__(self) -> None:
        self.metadata: dict[str, str] = {}

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [inputs[0].reshape(len(inputs[0]), -1).mean(1)]


@dataclass(frozen=True)
class Brightness:
    value: float


class BrightnessRunner:
    """Not re-entrant (as far as the engine knows): one per worker. Records the threads that ran it."""

    loaded = 0

    def __init__(self, session: MeanSession) -> None:
        self.session = session
        self.threads: set[int] = set()
        BrightnessRunner.loaded += 1

    @classmethod
    def load(cls, context: TaskContext) -> BrightnessRunner:
        return cls(MeanSession())

    def prepare(self, frame: DecodedImage, options: BrightnessOptions) -> tuple[np.ndarray, float]:
        return frame.pixels.astype(np.float32)[None] / 255.0, options.scale

    def run_batch(self, items: Sequence[tuple[np.ndarray, float]]) -> list[Brightness]:
        self.threads.add(threading.get_ident())
        return [Brightness(float(self.session.run([tensor])[0][0]) * scale) for tensor, scale in items]


def encode(image: str, result: Brightness) -> dict:
    return {"image": image, "brightness": round(result.value, 6)}


TASK = TaskDef(name="brightness", summary="Mean brightness of the frame (a test task)", options=BrightnessOptions,
               load=BrightnessRunner.load, encode=encode, decode_side=lambda config: 64)
