"""MOT metrics (motmetrics' IDF1, MOTA, id switches) of tracks against a truth file, at IoU 0.5."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vigil.ops.nms import iou_matrix

VIDEO = Path(__file__).resolve().parents[1] / "fixtures" / "video"
CLIP, TRUTH = VIDEO / "vtest_60.mp4", VIDEO / "vtest_60_truth.json"


def truth_by_frame(path: Path = TRUTH) -> dict[int, dict[str, list[float]]]:
    frames: dict[int, dict[str, list[float]]] = {}
    for person, rows in json.loads(path.read_text())["people"].items():
        for frame, *box in rows:
            frames.setdefault(int(frame), {})[person] = box
    return frames


def mot_metrics(tracks: dict[int, dict[int, list[float]]], truth: dict[int, dict[str, list[float]]],
                frames: int) -> dict[str, float]:
    """`tracks`: frame → {track id: xyxy}. IDF1, MOTA, id switches, recall and precision over `frames` frames."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    people = sorted({p for boxes in truth.values() for p in boxes})
    for frame in range(frames):
        gt, hyp = truth.get(frame, {}), tracks.get(frame, {})
        overlap = iou_matrix(_boxes(list(gt.values())), _boxes(list(hyp.values())))
        distances = np.where(overlap >= 0.5, 1 - overlap, np.nan)  # motmetrics' own iou_matrix predates NumPy 2
        acc.update([people.index(p) + 1 for p in gt], list(hyp), distances)  # motmetrics wants number ids
    names = ["idf1", "mota", "num_switches", "recall", "precision"]
    summary = mm.metrics.create().compute(acc, metrics=names, name="clip")
    return {name: float(summary[name].iloc[0]) for name in names}


def _boxes(boxes: list[list[float]]) -> np.ndarray:
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
