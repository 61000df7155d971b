"""What looking for the best face of each person track costs: the same source tracked without faces, then with
TrackFaces at its default bounds (a look every 3rd analysed frame per track, person boxes ≥ 96 px) and with a look on
every frame, in one process (so the ratios hold on a loaded machine even when the milliseconds do not).

    PYTHONPATH=src:. .venv/bin/python benchmarks/bench_track_faces.py [--video PATH] [--json]

Default: the suite's 60-frame vtest clip (6 people walking, most boxes under 96 px tall: few looks) with the faces
task on an empty gallery in a temporary folder. Reported per mode: seconds, ms per frame, looks, recognitions.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from tests.tracks.mot import CLIP
from vigil.config.cameras import CameraConfig
from vigil.config.settings import VigilConfig
from vigil.execute.local import Inline
from vigil.sources.reader import open_source
from vigil.tracks.faces import LOOK_EVERY, MIN_PERSON_PX, TrackFaces
from vigil.tracks.pipeline import TrackOptions, track_source


def one(executor: Inline, video: str, look_every: int | None, min_person: float) -> dict:
    looking = TrackFaces(executor, video, look_every or 1, min_person) if look_every is not None else None
    hook = (lambda frame, _s, seen, _l: looking.observe(frame, seen)) if looking is not None else None
    start = time.perf_counter()
    report = track_source(executor, open_source(video), CameraConfig(), TrackOptions(labels=["person"]), hook)
    if looking is not None:
        looking.finish(report.tracks)
    took = time.perf_counter() - start
    return {"seconds": round(took, 2), "ms_per_frame": round(1000 * took / max(1, report.analysed), 1),
            "tracks": len(report.tracks), "looks": looking.looks if looking else 0,
            "recognitions": looking.recognitions if looking else 0,
            "faces": sum(t.face is not None for t in report.tracks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=str(CLIP))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        executor = Inline(VigilConfig(faces={"gallery": f"{folder}/g.sqlite3"})).setup()
        one(executor, args.video, None, MIN_PERSON_PX)  # warm-up: models loaded, caches filled
        rows = {"no faces": one(executor, args.video, None, MIN_PERSON_PX),
                f"faces (every {LOOK_EVERY}, ≥ {MIN_PERSON_PX} px)": one(executor, args.video, LOOK_EVERY,
                                                                        MIN_PERSON_PX),
                "faces (every frame, any size)": one(executor, args.video, 1, 0)}
    if args.json:
        print(json.dumps(rows))
        return
    base = rows["no faces"]["seconds"]
    for name, row in rows.items():
        print(f"{name:34s} {row['seconds']:6.2f} s  ×{row['seconds'] / base:4.2f}  {row['ms_per_frame']:6.1f} ms/frame"
              f"  looks {row['looks']:3d}  recognitions {row['recognitions']:2d}  faces {row['faces']}")


if __name__ == "__main__":
    main()
