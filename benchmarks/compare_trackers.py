"""Which tracker library Vigil uses, by measurement: the same detections of the hand-boxed clip
(tests/fixtures/video/vtest_60.mp4, the default detector at its default settings, persons only) through each
candidate at its defaults, scored by IDF1, MOTA and id switches (motmetrics, IoU 0.5), with the time per frame.

    PYTHONPATH=src:. python benchmarks/compare_trackers.py

Candidates missing from the environment are reported as such. roboflow's `trackers` and `norfair` cannot be installed
next to Vigil (trackers needs the GUI `opencv-python`, 5.x, which replaces the headless OpenCV 4 Vigil pins;
norfair needs NumPy < 2 and rich < 15), so to measure them put them beside it without their dependencies:
`pip install --no-deps --target /tmp/trk trackers norfair filterpy` and `PYTHONPATH=src:.:/tmp/trk`.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from tests.tracks.mot import CLIP, mot_metrics, truth_by_frame
from vigil.config.settings import VigilConfig
from vigil.execute.local import Inline
from vigil.sources.reader import open_source
from vigil.tasks.detect import DetectParams

warnings.simplefilter("ignore")


def detections() -> list:
    executor = Inline(VigilConfig()).setup()
    return [executor.detect_frame(f.decoded(), DetectParams(labels="person")) for f in open_source(str(CLIP))]


def run_sv(make, frames: list) -> dict[int, dict[int, list[float]]]:
    import supervision as sv

    tracker, out = make(), {}
    for i, found in enumerate(frames):
        d = sv.Detections(xyxy=found.xyxy, confidence=found.score, class_id=found.class_id.astype(int))
        done = tracker.update_with_detections(d) if hasattr(tracker, "update_with_detections") else tracker.update(d)
        out[i] = {int(t): list(map(float, b)) for b, t in zip(done.xyxy, done.tracker_id, strict=True)}
    return out


def run_norfair(frames: list) -> dict[int, dict[int, list[float]]]:
    from norfair import Detection, Tracker

    tracker, out = Tracker(distance_function="iou", distance_threshold=0.7, initialization_delay=0), {}
    for i, found in enumerate(frames):
        tracked = tracker.update([Detection(np.array([b[:2], b[2:]]), scores=np.array([s, s]))
                                  for b, s in zip(found.xyxy, found.score, strict=True)])
        out[i] = {t.id: [*t.estimate[0], *t.estimate[1]] for t in tracked if t.last_detection is not None}
    return out


def candidates() -> dict:
    import supervision as sv

    found: dict = {"supervision ByteTrack (0.30)": lambda f: run_sv(
        lambda: sv.ByteTrack(track_activation_threshold=0.25, lost_track_buffer=20, minimum_consecutive_frames=1), f)}
    try:
        import trackers

        found["trackers ByteTrackTracker"] = lambda f: run_sv(trackers.ByteTrackTracker, f)
        found["trackers SORTTracker"] = lambda f: run_sv(trackers.SORTTracker, f)
        found["trackers OCSORTTracker"] = lambda f: run_sv(trackers.OCSORTTracker, f)
    except ImportError:
        print("trackers: not installed (see the docstring)")
    try:
        import norfair  # noqa: F401

        found["norfair (IoU)"] = run_norfair
    except ImportError:
        print("norfair: not installed (see the docstring)")
    return found


def main() -> None:
    frames, truth = detections(), truth_by_frame()
    print("| tracker | IDF1 | MOTA | id switches | ms/frame |\n|---|---|---|---|---|")
    for name, run in candidates().items():
        start = time.perf_counter()
        tracks = run(frames)
        ms = (time.perf_counter() - start) * 1000 / len(frames)
        m = mot_metrics(tracks, truth, len(frames))
        print(f"| {name} | {m['idf1']:.3f} | {m['mota']:.3f} | {m['num_switches']:.0f} | {ms:.2f} |")


if __name__ == "__main__":
    main()
