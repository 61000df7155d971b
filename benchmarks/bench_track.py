"""A 10 fps camera analysed live: does `vigil track`'s pipeline keep up on this machine, with and without motion
gating? Frames of a real video are released at their own times (10 a second, as a live stream delivers them); a
frame that arrives while the previous one is still being analysed waits, and one that is overtaken by a newer frame
is lost, as on a live stream. Reported per mode: frames analysed per second, detector runs, frames lost for being
late, CPU % of one core (process CPU time / wall time), and whether it kept up (nothing lost). A third run, with
gating, is a quiet scene: a still view with sensor noise.

    PYTHONPATH=src:. .venv/bin/python benchmarks/bench_track.py [--video PATH] [--seconds 30] [--json]

Default video: OpenCV's vtest.avi (Debian package opencv-doc; 795 frames of a campus path, 10 fps), else the suite's
60-frame clip looped. A real RTSP stream can be measured with --video rtsp://... (it paces itself).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from tests.tracks.mot import CLIP
from vigil.config.cameras import CameraConfig
from vigil.config.settings import VigilConfig
from vigil.execute.local import Inline
from vigil.imaging import images
from vigil.sources.frames import Frame, Source
from vigil.sources.reader import open_source
from vigil.tracks.pipeline import TrackOptions, track_source

from common import table

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
QUIET = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "images" / "vtest_000.jpg"


class Live(Source):
    """A file's frames released at its frame times from now on; frames overtaken while the consumer was busy are
    lost (counted in `late`), as a live stream would lose them."""

    def __init__(self, path: str, seconds: float, rate: float = 10.0) -> None:
        """`path`: a video, or "quiet" for a still view with sensor noise (vtest_000.jpg, σ 2 grey levels)."""
        super().__init__(f"{path} (live, {rate:g} fps)")
        self.path, self.seconds, self.rate, self.late = path, seconds, rate, 0

    def frames(self):
        recorded = self._looped()
        ready = next(recorded)  # the first frame made (the quiet scene's noise too) before the clock starts
        start = time.monotonic()
        index = 0
        while index < self.seconds * self.rate:
            pixels = ready if ready is not None else next(recorded)
            ready = None
            due = index / self.rate
            now = time.monotonic() - start
            if now < due:
                time.sleep(due - now)
            newest = int((time.monotonic() - start) * self.rate)
            if newest > index:  # the consumer came back late: the frame is gone, as on a live stream
                self.late += 1
                index += 1
                continue
            yield Frame(index, index / self.rate, pixels)
            index += 1

    def _looped(self):
        if self.path == "quiet":
            photo = images.load(QUIET).pixels.astype(np.float32)
            rng = np.random.default_rng(7)  # made beforehand: making noise costs more than the gate's test
            noisy = [np.clip(photo + rng.normal(0, 2, photo.shape), 0, 255).astype(np.uint8) for _ in range(16)]
            while True:
                yield from noisy
        while True:
            yield from (f.pixels for f in open_source(self.path))


def measure(executor: Inline, video: str, seconds: float, gate: bool) -> dict:
    """One live run; the row of the table."""
    source = Live(video, seconds) if "://" not in video else open_source(video, duration_s=seconds)
    cpu, wall = time.process_time(), time.monotonic()
    report = track_source(executor, source, CameraConfig(), TrackOptions(motion_gate=gate, labels=["person"]))
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    late = getattr(source, "late", 0)
    return {"scene": "quiet" if video == "quiet" else "people", "motion_gate": gate, "frames": report.frames,
            "detector_runs": report.analysed,
            "skipped_by_motion": report.skipped_by_motion, "late_lost": late,
            "frames_per_s": round(report.frames / wall, 2), "cpu_percent": round(100 * cpu / wall, 1),
            "kept_up": late == 0, "tracks": len(report.tracks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=str(VTEST if VTEST.is_file() else CLIP))
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    executor = Inline(VigilConfig()).setup()
    runs = [(args.video, False), (args.video, True), ("quiet", True)]
    rows = [measure(executor, video, args.seconds, gate) for video, gate in runs]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{args.video}, {args.seconds:g} s at 10 fps, {os.cpu_count()} cores")
    print(table(list(rows[0]), [list(r.values()) for r in rows]))


if __name__ == "__main__":
    main()
