"""The `crowd` task: how dense, how many, and where (a density heatmap), as the seed did it — classify, then count.

Routing: with a level classifier, dense scenes go to the density model and sparse ones to the detector count;
without one, the density model counts every scene when it is configured. Until a density model exists the detector
count is used everywhere. The answer names the estimator that ran. Options can force one estimator (benchmarks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vigil.config.settings import VigilConfig
from vigil.config.tasks import CrowdConfig
from vigil.errors import NotActivated
from vigil.formats import native
from vigil.imaging.images import DecodedImage
from vigil.ops.density import heat_overlay
from vigil.registry.labels import PERSON
from vigil.results import CrowdEstimate, Detections
from vigil.tasks.base import TaskCall, TaskContext, TaskDef, current_deadline
from vigil.tasks.crowd_models import DensityCounter, DetectorCounter, LevelClassifier, heat_from_boxes
from vigil.tasks.detect import DetectParams
from vigil.tasks.second_look import LookPlan

Estimator = Literal["auto", "detector", "tiled_detector", "density"]


class CrowdOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heatmap: bool = Field(False, title="Heatmap", description="add the density overlaid on the frame as a PNG")
    estimator: Estimator = Field("auto", title="Estimator",
                                 description="auto: classify then count; or force detector, tiled_detector, density")


@dataclass(frozen=True)
class CrowdItem:
    frame: DecodedImage
    options: CrowdOptions
    deadline: float | None  # the request's: the detector runs it needs keep to it


class CrowdCounter:
    """The loaded crowd task: the density model and level classifier when configured; people counted by the served
    detect task (its one loaded detector, through the executor), never a second copy of it."""

    reentrant = True  # onnxruntime sessions and a fitted scikit-learn model: safe from several worker threads

    def __init__(self, run: TaskCall, cfg: CrowdConfig, density: DensityCounter | None,
                 level: LevelClassifier | None, looks_closer: bool = False):
        self.run, self.cfg, self.density, self.level = run, cfg, density, level
        self.looks_closer = looks_closer  # the detect task has its second look: `auto` needs no tiles of its own

    @classmethod
    def load(cls, ctx: TaskContext) -> CrowdCounter:
        cfg = ctx.config.crowd
        density = DensityCounter.load(ctx.store, cfg.density_model, cfg.density_side, ctx.threads) \
            if cfg.density_model else None
        level = LevelClassifier.load(cfg.level_model, ctx.threads) if cfg.level_model else None
        return cls(ctx.run, cfg, density, level, LookPlan.from_config(ctx.config.detect).active)

    def prepare(self, frame: DecodedImage, options: CrowdOptions | None = None) -> CrowdItem:
        return CrowdItem(frame, options or CrowdOptions(), current_deadline())

    def detector(self, deadline: float | None) -> DetectorCounter:
        params = DetectParams(min_score=self.cfg.min_score, labels=PERSON)

        def find(pixels: np.ndarray) -> Detections:
            frame = DecodedImage(pixels, pixels.shape[1], pixels.shape[0])
            return self.run("detect", frame, params, deadline)

        return DetectorCounter(find, self.cfg, self.looks_closer)

    def run_batch(self, items: Sequence[CrowdItem]) -> list[CrowdEstimate]:
        return [self.estimate(item.frame, item.options, item.deadline) for item in items]

    def estimate(self, frame: DecodedImage, options: CrowdOptions | None = None, deadline: float | None = None
                 ) -> CrowdEstimate:
        options, pixels = options or CrowdOptions(), frame.pixels
        level, dense_proba = "unknown", None
        if self.level is not None and options.estimator == "auto":
            dense_proba = self.level.dense_proba(pixels)
            level = "dense" if dense_proba >= 0.5 else "sparse"
        choice = self._choose(options.estimator, level)
        if choice == "density":
            assert self.density is not None
            heat = self.density.density(pixels)
            result = CrowdEstimate(float(heat.sum()), level, "density", dense_proba, density=heat)
        else:
            tiles = None if choice == "auto" else choice == "tiled_detector"
            people, tiled = self.detector(deadline).count(pixels, tiles)
            people.xyxy /= frame.scale  # boxes in the original frame's pixels
            heat = heat_from_boxes(people.xyxy * frame.scale, pixels.shape[1], pixels.shape[0])
            result = CrowdEstimate(float(len(people)), level, "tiled_detector" if tiled else "detector", dense_proba,
                                   people=people, density=heat)
        result.width, result.height = frame.width, frame.height
        if options.heatmap:
            result.heatmap_png = overlay_png(pixels, heat)
        return result

    def _choose(self, forced: str, level: str) -> str:
        """'density', or a detector mode: 'auto' (tiles as configured), 'detector', 'tiled_detector'."""
        if forced == "density":
            if self.density is None:
                raise NotActivated("no density model: set [crowd] density_model (see `vigil train crowd`)")
            return "density"
        if forced != "auto":
            return forced
        if self.density is not None and level in ("dense", "unknown"):
            return "density"
        return "auto"


def overlay_png(pixels: np.ndarray, density: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", heat_overlay(pixels, density)[:, :, ::-1])
    if not ok:
        raise ValueError("PNG encoding of the heatmap failed")
    return data.tobytes()


def _models(config: VigilConfig) -> tuple[str, ...]:
    return (config.detect.model, *((config.crowd.density_model,) if config.crowd.density_model else ()))


TASK = TaskDef(
    name="crowd",
    summary="How many people, how dense (sparse/dense), and where: a count and a density heatmap",
    options=CrowdOptions,
    load=CrowdCounter.load,
    encode=native.crowd,
    models=_models,
    section="crowd",
    needs=("detect",),
)
