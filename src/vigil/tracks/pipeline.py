"""A source's frames through the executor's detector, masks, the tracker and the scene: one `TrackReport`.

Frames are thinned to `fps` (when given) by their times, then, with motion gating, to those that changed; the
detector runs on what is left. A frame the detector fails on is counted as dropped and the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from vigil.config.cameras import CameraConfig
from vigil.errors import VigilError
from vigil.execute.executor import Executor
from vigil.results import CLASS_NAME, Detections, Loitering, Track, TrackReport
from vigil.sources.frames import Frame, Source
from vigil.sources.motion import MotionGate
from vigil.tasks.detect import DetectParams
from vigil.tracks.scene import Scene
from vigil.tracks.tracker import Tracker, forget_ended, stationary

log = logging.getLogger(__name__)
DEFAULT_RATE = 10.0  # frames a second assumed for the tracker's memory when neither --fps nor the source says


@dataclass
class TrackOptions:
    fps: float | None = None  # frames analysed per second; None: every frame
    motion_gate: bool = False
    keyframe_s: float = 5.0
    labels: list[str] = field(default_factory=list)  # labels tracked; empty: every label the detector reports
    params: DetectParams = field(default_factory=DetectParams)
    where: str = ""  # how the camera's config keys are named in messages ("cameras.door.", "--")
    keep_s: float | None = None  # a live camera: forget tracks unseen this long (None: keep all for the report)


@dataclass
class _Run:
    report: TrackReport
    options: TrackOptions
    gate: MotionGate | None
    scene: Scene | None = None
    tracker: Tracker | None = None
    due: float = 0.0
    loitering: list[Loitering] = field(default_factory=list)


def track_source(executor: Executor, source: Source, camera: CameraConfig, options: TrackOptions,
                 on_analysed: Callable[[Frame, Scene, list[Track], list[Loitering]], None] | None = None
                 ) -> TrackReport:
    """Every frame of `source`, tracked. ConfigError (from the scene) when a zone or line lies outside the frame.
    `on_analysed(frame, scene, tracks_seen, new_loiterers)` after each frame the detector ran on (a camera feed
    publishes from it)."""
    run = _Run(TrackReport(source.name), options, MotionGate(options.keyframe_s) if options.motion_gate else None)
    for frame in source:
        run.report.frames += 1
        if run.scene is None:
            _start(run, camera, frame, getattr(source, "rate", None))
        if _wanted(run, frame):
            seen, loitering = _analyse(executor, run, frame)
            if on_analysed and run.scene is not None:
                on_analysed(frame, run.scene, seen, loitering)
    return _finish(run, source)


def _start(run: _Run, camera: CameraConfig, frame: Frame, rate: float | None) -> None:
    run.scene = Scene(camera, frame.width, frame.height, run.options.where)
    run.report.width, run.report.height = frame.width, frame.height
    run.tracker = Tracker(run.options.fps or rate or DEFAULT_RATE)
    run.due = frame.time_s


def _wanted(run: _Run, frame: Frame) -> bool:
    fps = run.options.fps
    if fps:
        if frame.time_s + 1e-6 < run.due:
            return False
        run.due = max(run.due + 1 / fps, frame.time_s + 0.5 / fps)
    if run.gate is not None and not run.gate.wants(frame.pixels, frame.time_s):
        run.report.skipped_by_motion += 1
        return False
    return True


def _analyse(executor: Executor, run: _Run, frame: Frame) -> tuple[list[Track], list[Loitering]]:
    assert run.scene is not None and run.tracker is not None
    try:
        moved = run.gate.moved if run.gate is not None else None
        found = executor.detect_frame(frame.decoded(moved), run.options.params)
    except VigilError as exc:
        run.report.dropped += 1
        log.warning("%s: frame %d: detection failed (%s); skipped", run.report.source, frame.index, exc)
        return [], []
    run.report.analysed += 1
    found = run.scene.unmasked(_labelled(found, run.options.labels))
    seen = run.tracker.update(frame.index, frame.time_s, found, frame.pixels)
    loitering = run.scene.update(frame.time_s, seen)
    if run.options.keep_s is not None:
        run.scene.forget(forget_ended(run.tracker, frame.time_s, run.options.keep_s))
    else:
        run.loitering += loitering
    return seen, loitering


def _labelled(found: Detections, labels: list[str]) -> Detections:
    names = found.data.get(CLASS_NAME)
    if not labels or names is None or not len(found):
        return found
    return found[[str(n) in labels for n in names]]


def _finish(run: _Run, source: Source) -> TrackReport:
    report = run.report
    counters = source.counters
    report.dropped += counters.dropped
    report.reconnects = counters.reconnects
    if run.tracker is not None:
        report.tracks = sorted(run.tracker.tracks.values(), key=lambda t: t.id)
        report.stationary = {t.id: stationary(t) for t in report.tracks}
    if run.scene is not None:
        report.lines, report.zones = run.scene.lines, run.scene.zones
    return report
