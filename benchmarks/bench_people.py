"""Person detection quality on the hand-counted vtest frames (tests/fixtures/vtest_people.json, 43 people),
per model, input size and score threshold, with the latency each setting costs. The detector's single pass
(`[detect] profile = "fast"`); bench_small_people.py scores the second look on top.

    .venv/bin/python benchmarks/bench_people.py [--iou 0.5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from vigil.config.settings import VigilConfig
from vigil.config.tasks import DetectConfig
from vigil.execute.local import Inline
from vigil.ops.matching import MatchCounts, match
from vigil.tasks.detect import DetectParams

from common import IMAGES, REPO, make_1080p_jpeg, p50_p95, table, timings_ms

TRUTH = json.loads((REPO / "tests" / "fixtures" / "vtest_people.json").read_text())["frames"]
THRESHOLDS = (0.25, 0.4, 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iou", type=float, default=0.5)
    parser.add_argument("--sizes", default="416,512,608")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        hd = make_1080p_jpeg(Path(tmp) / "hd.jpg")
        for model in ("yolov4_tiny.coco", "yolov3_tiny.coco"):
            for size in map(int, args.sizes.split(",")):
                config = VigilConfig(detect=DetectConfig(model=model, input_size=size, profile="fast"))
                pipe = Inline(config).setup()
                params = DetectParams(min_score=min(THRESHOLDS), labels="person")
                found = {name: pipe.detect(IMAGES / name, params=params)[0].detections for name in TRUTH}
                frame_ms = p50_p95(timings_ms(lambda pipe=pipe: pipe.detect(IMAGES / "vtest_000.jpg"), 20))[0]
                hd_ms = p50_p95(timings_ms(lambda pipe=pipe: pipe.detect(hd), 20))[0]
                for threshold in THRESHOLDS:
                    counts = MatchCounts()
                    for name, d in found.items():
                        d = d[d.score >= threshold]
                        counts += match(d.xyxy, d.score, np.array(TRUTH[name]["boxes"]), args.iou)
                    rows.append([model, size, threshold, f"{counts.recall:.2f}", f"{counts.precision:.2f}",
                                 counts.true_positives, counts.false_positives, frame_ms, hd_ms])
    print(table(["model", "input", "min score", "recall", "precision", "TP", "FP", "768x576 p50 ms",
                 "1080p p50 ms"], rows))


if __name__ == "__main__":
    main()
