"""The flat facade: plain verbs over one shared executor (inline: the caller's thread), models loaded on first use.

    import vigil.api as vigil
    result = vigil.detect("frame.jpg", min_score=0.5, labels=["person"])
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from vigil.config.settings import VigilConfig, load_config
from vigil.execute.executor import FACES
from vigil.execute.local import Inline
from vigil.results import ImageResult
from vigil.tasks.detect import DetectParams

ImageSource = str | Path | bytes
_executor: Inline | None = None
_lock = threading.Lock()


def executor(config: VigilConfig | None = None) -> Inline:
    """The shared executor; passing a config replaces it."""
    global _executor
    with _lock:
        if config is not None or _executor is None:
            _executor = Inline(config or load_config())
        return _executor


def detect(image: ImageSource, min_score: float | None = None, labels: Sequence[str] | None = None) -> ImageResult:
    """Objects in one image (a path or encoded bytes), boxes in the image's own pixels.

    `min_score` trades recall for precision: at the default 0.4 the default YOLOv4-tiny finds most people
    on typical camera frames with few false alarms; raise it (0.6–0.8, as the original servers did) when
    false alerts cost more than a missed frame. `labels` keeps only those class names (e.g. ["person"]).
    An unreadable image gives a result with `error` set and no detections, never an exception.
    """
    params = DetectParams(min_score=min_score, labels=",".join(labels) if labels is not None else None)
    result, _ = executor().detect(image, params=params)
    return result


def recognize(image: ImageSource):
    """Every face in one image (a path or encoded bytes): Detections with boxes in the image's pixels and
    data["name"] — a person's name, "unknown" (a stranger) or "uncertain" — plus data["similarity"].

    A face is named when its embedding lies within `faces.match_distance` (0.5) of one of the person's samples
    and called a stranger beyond `faces.unknown_distance` (0.6); in between a name would be a guess, so the
    answer is "uncertain". Lower match_distance for fewer wrong names, raise it to name more of the hard
    (dark, small, turned) faces. Faces under `min_face` px or too blurry are "uncertain" with quality set.
    Raises BadInput for an unreadable image.
    """
    run = executor()
    frame = run.decode(image if isinstance(image, bytes) else Path(image), full_size=True)
    found = run.call(FACES, "recognize", frame, str(image) if not isinstance(image, bytes) else "", 0.0,
                     deadline=run.deadline())
    run.recognizer.strangers.wait()  # a library call returns with its strangers filed
    return found


def enroll(name: str, images: Sequence[ImageSource]):
    """Add photos of one person to the gallery; returns an EnrollReport (added, skipped by file hash,
    no usable face, unreadable). Each photo should show the person alone (the largest face is taken)."""
    sources = [i if isinstance(i, bytes) else Path(i) for i in images]
    run = executor()
    return run.call(FACES, "enroll", name, sources, None, deadline=float("inf"))  # enrolment is offline work


def track(source: str | Path, fps: float | None = None, labels: Sequence[str] = (), motion_gate: bool = False,
          lines: dict | None = None, zones: dict | None = None, faces: bool = False):
    """Objects followed through a video file, a folder of frames or a stream (see README "Tracks"): a TrackReport
    with tracks (id, label, boxes, best view), `stationary` per track id, line counts and zone occupancy/dwell.

    `lines` maps a name to two points (crossing from the line's left to its right, seen from the first point, is
    "in"); `zones` a name to a polygon or to `{"points": [...], "loiter_s": 10}`. `fps` thins a file to that many
    frames a second (every frame by default); `motion_gate` skips the detector on frames that did not change, which
    saves most of the work on a quiet camera and, measured, missed nobody on footage with people. A bad shape is a
    ConfigError naming it; an unreadable source a BadInput. `faces`: each person track's best face, recognised
    (`Track.face`: frame, box, score, name, cluster_id).
    """
    from vigil.config.cameras import camera_config
    from vigil.sources.reader import open_source
    from vigil.tracks.faces import track_with_faces
    from vigil.tracks.pipeline import TrackOptions, track_source

    camera = camera_config(lines={k: {"points": v} for k, v in (lines or {}).items()},
                           zones={k: v if isinstance(v, dict) else {"points": v} for k, v in (zones or {}).items()})
    run = executor()
    run.setup()
    options = TrackOptions(fps=fps, motion_gate=motion_gate, labels=list(labels))
    return (track_with_faces if faces else track_source)(run, open_source(str(source), fps=fps), camera, options)
