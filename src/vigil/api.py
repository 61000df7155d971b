"""The flat facade: plain verbs over one shared, lazily loaded pipeline.

    import vigil.api as vigil
    result = vigil.detect("frame.jpg", min_score=0.5, labels=["person"])
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from vigil.config import VigilConfig, load_config
from vigil.pipeline import DetectRequest, ImageSource, Pipeline
from vigil.results import ImageResult

_pipeline: Pipeline | None = None
_lock = threading.Lock()


def pipeline(config: VigilConfig | None = None) -> Pipeline:
    """The shared pipeline; passing a config replaces it."""
    global _pipeline
    with _lock:
        if config is not None or _pipeline is None:
            _pipeline = Pipeline(config or load_config())
        return _pipeline


def detect(image: ImageSource, min_score: float | None = None, labels: Sequence[str] | None = None) -> ImageResult:
    """Objects in one image (a path or encoded bytes), boxes in the image's own pixels.

    `min_score` trades recall for precision: at the default 0.4 the default YOLOv4-tiny finds most people
    on typical camera frames with few false alarms; raise it (0.6–0.8, as the original servers did) when
    false alerts cost more than a missed frame. `labels` keeps only those class names (e.g. ["person"]).
    An unreadable image gives a result with `error` set and no detections, never an exception.
    """
    result, _ = pipeline().detect(image, request=DetectRequest(min_score=min_score, labels=labels))
    return result
