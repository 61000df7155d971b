"""End-to-end `detect` latency: Vigil's path against the plain OpenCV-DNN path on the same weights.

    .venv/bin/python benchmarks/bench_detect.py [--runs 50]

Both paths start from the JPEG file on disk and end with boxes in original-image pixels.
Baseline: cv2.imread (full decode) → blobFromImage 416×416 → OpenCV DNN darknet forward → NMSBoxes.
Vigil: reduced-scale DCT decode → letterbox to a rect input → onnxruntime (BN folded; int8 where
calibrated) → early-exit decode → NMS. The Vigil rows are the single pass (`[detect] profile = "fast"`), as
measured before the second look existed; the last row is today's default, the second look at small people on top
(bench_small_people.py scores what it finds).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from vigil.config.settings import VigilConfig
from vigil.config.tasks import DetectConfig
from vigil.execute.executor import DETECT
from vigil.execute.local import Inline
from vigil.imaging import images
from vigil.runtimes import opencv_dnn
from vigil.tasks.detect import DetectOptions

from common import IMAGES, make_1080p_jpeg, p50_p95, table, timings_ms

MODEL = "yolov4_tiny.coco"


def opencv_baseline(net: cv2.dnn.Net, path: Path, size: int = 416, min_score: float = 0.4) -> int:
    bgr = cv2.imread(str(path))
    height, width = bgr.shape[:2]
    rows = np.concatenate(opencv_dnn.forward(net, bgr, size))
    scores = rows[:, 5:].max(axis=1)
    keep = scores > min_score
    rows, scores, classes = rows[keep], scores[keep], rows[keep, 5:].argmax(axis=1)
    boxes = [[(r[0] - r[2] / 2) * width, (r[1] - r[3] / 2) * height, r[2] * width, r[3] * height] for r in rows]
    kept = cv2.dnn.NMSBoxesBatched(boxes, scores.tolist(), classes.tolist(), min_score, 0.45)
    return len(kept)


def stages(pipe: Inline, path: Path, runs: int) -> dict[str, float]:
    """Median ms of each step on Vigil's path, to say where the time goes."""
    data = path.read_bytes()
    size = pipe.config.detect.input_size
    detector = pipe.runner(DETECT).detector
    frame = images.decode(data, pipe.limits, fit=(size, size))
    tensor, box = detector.preprocess(frame.pixels)
    outputs = detector.infer(tensor)
    net_h, net_w = tensor.shape[1:3]
    options = DetectOptions(min_score=0.4)
    steps = {
        "decode": lambda: images.decode(data, pipe.limits, fit=(size, size)),
        "preprocess": lambda: detector.preprocess(frame.pixels),
        "infer": lambda: detector.infer(tensor),
        "postprocess": lambda: detector.postprocess(outputs, box, net_w, net_h, options),
    }
    return {name: p50_p95(timings_ms(fn, runs))[0] for name, fn in steps.items()} | {
        "input": f"{frame.pixels.shape[1]}x{frame.pixels.shape[0]} → {net_w}x{net_h}"}


CONFIGS = [("fp32", 416, "fast"), ("int8", 416, "fast"), ("int8", 512, "fast"), ("int8", 512, "second_look")]
NAMES = {"fast": "", "second_look": " second look (default)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    pipes = {(p, s, look): Inline(VigilConfig(detect=DetectConfig(model=MODEL, precision=p, input_size=s,
                                                                  profile=look))).setup()
             for p, s, look in CONFIGS}
    store = next(iter(pipes.values())).store
    net = opencv_dnn.darknet_net(store.path(MODEL, "cfg"), store.path(MODEL, "weights"))
    with tempfile.TemporaryDirectory() as tmp:
        hd = make_1080p_jpeg(Path(tmp) / "street_1080p.jpg")
        cases = {"vtest 768x576 (7 frames)": sorted(IMAGES.glob("vtest_*.jpg")), "1920x1080 JPEG": [hd]}
        rows = []
        for label, paths in cases.items():
            runs = max(5, args.runs // len(paths))
            base = [t for p in paths for t in timings_ms(lambda p=p: opencv_baseline(net, p), runs)]
            b50, b95 = p50_p95(base)
            rows.append([label, "OpenCV-DNN fp32 416x416 (baseline)", b50, b95, "1.00x"])
            for (precision, size, look), pipe in pipes.items():
                ours = [t for p in paths for t in timings_ms(lambda p=p, pipe=pipe: pipe.detect(p), runs)]
                o50, o95 = p50_p95(ours)
                rows.append([label, f"Vigil {precision} {size}{NAMES[look]}", o50, o95, f"{b50 / o50:.2f}x"])
        print(table(["images", "path", "p50 ms", "p95 ms", "speed-up vs baseline (p50)"], rows))
        print()
        for key, pipe in pipes.items():
            if key[2] != "fast":
                continue  # the same first pass, plus windows
            split = stages(pipe, hd, args.runs)
            print(f"where the time goes, 1080p, Vigil {key[0]} {key[1]} (median ms):",
                  ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in split.items()))


if __name__ == "__main__":
    main()
