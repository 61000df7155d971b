"""Person presence (Visual Wake Words): is anyone in the frame? One tiny classifier on the whole frame.

The frame is squashed to the model's input without keeping the aspect ratio (VWW models are trained that way) and fed
as the interpreter declares it: float pixels (after the spec's mean/std: 0–255 for the MLPerf Tiny model) or int8/uint8
quantized with the input tensor's own scale and zero point, RGB or grayscale by the input's channel count. The output is
the softmax over the spec's labels; `person` is true when its probability reaches the threshold.

`PresenceGate` is the optional `[detect] presence_gate`: frames the model calls empty with high confidence skip the
detector. LiteRT interpreters are not re-entrant: the engine loads one runner per worker, and the gate holds a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vigil.config.settings import VigilConfig
from vigil.errors import BadInput
from vigil.formats import native
from vigil.imaging.images import DecodedImage
from vigil.ops.letterbox import stretch
from vigil.ops.tensor import to_tensor
from vigil.registry.labels import PERSON
from vigil.registry.specs import ModelSpec
from vigil.registry.store import ModelStore
from vigil.results import CLASS_NAME, Detections, Presence
from vigil.runtimes.session import Session, open_session
from vigil.tasks.base import SessionFactory, TaskContext, TaskDef

# Reduced JPEG decode down to this long side keeps the short side ≥ 96 px for frames up to 2:1, so the stretch to the
# 96×96 input only ever shrinks (the decode itself is then most of the cost: ~8× fewer pixels than a full decode).
DECODE_SIDE = 192


class PresenceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_score: float | None = Field(None, ge=0, le=1, title="Person score",
                                    description="person is true at or above this score (default: [presence] min_score)")


@dataclass(frozen=True)
class PresenceInput:
    tensor: np.ndarray
    min_score: float


class PresenceModel:
    """A Runner: one LiteRT interpreter, its input read from the interpreter, softmax out."""

    def __init__(self, spec: ModelSpec, session: Session, min_score: float = 0.5) -> None:
        if PERSON not in spec.labels:
            raise BadInput(f"{spec.name} has no {PERSON!r} label (labels: {', '.join(spec.labels) or 'none'})")
        self.spec, self.session, self.min_score = spec, session, min_score
        shape = list(getattr(session, "input_shape", None) or [1, spec.input.height, spec.input.width, 3])
        self.height, self.width, self.channels = int(shape[1]), int(shape[2]), int(shape[3])
        self.input_dtype = np.dtype(getattr(session, "input_dtype", np.float32))
        self.input_quantization = tuple(getattr(session, "input_quantization", (0.0, 0)))
        self.output_quantization = tuple((getattr(session, "output_quantization", None) or [(0.0, 0)])[0])
        self.person_index = spec.labels.index(PERSON)

    @classmethod
    def load(cls, ctx: TaskContext) -> PresenceModel:
        cfg = ctx.config.presence
        return cls.open(ctx.store, cfg.model, cfg.min_score, ctx.threads or 1, ctx.open_session)

    @classmethod
    def open(cls, store: ModelStore, name: str, min_score: float = 0.5, threads: int = 1,
             opener: SessionFactory = open_session) -> PresenceModel:
        """Open an already pulled model (loading never pulls: a missing file says which pull to run)."""
        spec = store.spec(name)
        if spec.task not in ("presence", "classify") or spec.runtime != "litert":
            raise BadInput(f"{name} is a {spec.task} model for {spec.runtime}, not a LiteRT presence model")
        model = cls(spec, opener(store.path(name, "model"), spec.runtime, threads), min_score)
        model.scores([np.full((model.height, model.width, 3), 127, np.uint8)])  # warm-up
        return model

    def tensor(self, rgb: np.ndarray) -> np.ndarray:
        """The whole frame, stretched to the input and encoded as the input tensor declares (a float spec on an
        integer input, as the ready model's manifests describe pixels, is quantized at the tensor's scale)."""
        pixels = stretch(rgb, self.width, self.height)[0]
        if self.spec.input.dtype == "int8":  # `vigil export`'s int8 input: the spec's mean/std fold the
            return to_tensor(pixels, self.spec.input)  # quantization in; applying the tensor's scale again saturates
        if self.channels == 1:
            pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)[:, :, None]
        mean = np.asarray(self.spec.input.mean[: self.channels], np.float32)
        std = np.asarray(self.spec.input.std[: self.channels], np.float32)
        real = (pixels.astype(np.float32) - mean) / std
        if np.issubdtype(self.input_dtype, np.integer):
            scale, zero = self.input_quantization
            info = np.iinfo(self.input_dtype)
            real = np.clip(np.round(real / scale + zero if scale else real), info.min, info.max)
        return np.ascontiguousarray(real.astype(self.input_dtype)[None])

    def person_score(self, output: np.ndarray) -> float:
        probs = output.reshape(-1).astype(np.float32)
        if np.issubdtype(output.dtype, np.integer):  # a full-integer model's int8 softmax
            scale, zero = self.output_quantization
            probs = (probs - zero) * scale
        return float(probs[self.person_index])

    def scores(self, rgb_frames: Sequence[np.ndarray]) -> list[float]:
        return [self.person_score(self.session.run([self.tensor(rgb)])[0]) for rgb in rgb_frames]

    def prepare(self, frame: DecodedImage, options: PresenceOptions | None = None) -> PresenceInput:
        min_score = options.min_score if options is not None and options.min_score is not None else self.min_score
        return PresenceInput(self.tensor(frame.pixels), min_score)

    def run_batch(self, items: Sequence[PresenceInput]) -> list[Presence]:
        # the model file is batch 1 and a 96² pass takes ~0.1 ms: one invoke per frame costs nothing worth batching
        out = []
        for item in items:
            score = self.person_score(self.session.run([item.tensor])[0])
            out.append(Presence(person=score >= item.min_score, score=score, model=self.spec.name))
        return out

    def detect(self, frame: DecodedImage, options: PresenceOptions | None = None) -> Presence:
        return self.run_batch([self.prepare(frame, options)])[0]


TASK = TaskDef(
    name="presence",
    summary="Is a person in the frame? (Visual Wake Words, whole frame, ~0.1 ms)",
    options=PresenceOptions,
    load=PresenceModel.load,
    encode=native.presence,
    decode_side=lambda config: DECODE_SIDE,
    models=lambda config: (config.presence.model,),
    section="presence",
)


class PresenceGate:
    """`[detect] presence_gate`: frames whose person score is below the gate skip the detector (and report no
    detections). Off at 0; see README for what it saves and loses on real frames."""

    def __init__(self, model: PresenceModel, below: float) -> None:
        self.model, self.below = model, below
        self.skipped = 0
        self._lock = threading.Lock()  # one interpreter, possibly several detector threads

    @classmethod
    def from_config(cls, config: VigilConfig, store: ModelStore) -> PresenceGate | None:
        below = config.detect.presence_gate
        if below <= 0:
            return None
        return cls(PresenceModel.open(store, config.presence.model, config.presence.min_score), below)

    def empty(self, frame: DecodedImage) -> bool:
        with self._lock:
            return self.model.scores([frame.pixels])[0] < self.below

    def run(self, frames: Sequence[DecodedImage], detect: Callable[[list[int]], list[Detections]]
            ) -> list[Detections]:
        """`detect(indices)` runs the detector on those frames only; skipped frames get empty detections."""
        keep = [i for i, frame in enumerate(frames) if not self.empty(frame)]
        out = [_no_detections() for _ in frames]
        for i, found in zip(keep, detect(keep) if keep else [], strict=True):
            out[i] = found
        self.skipped += len(frames) - len(keep)
        return out


def run_gated(gate: PresenceGate | None, frames: Sequence[DecodedImage],
              detect: Callable[[list[int]], list[Detections]]) -> list[Detections]:
    """The one call the pipeline makes: the detector on every frame, or on those the gate lets through."""
    return detect(list(range(len(frames)))) if gate is None else gate.run(frames, detect)


def _no_detections() -> Detections:
    empty = Detections.empty()
    return Detections(empty.xyxy, empty.score, empty.class_id, {CLASS_NAME: np.zeros(0, dtype=object)})
