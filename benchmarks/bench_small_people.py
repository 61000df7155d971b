"""Small and distant people: recall, overcount and cost per frame of each way of looking, against the plain
OpenCV-DNN path on the same weights, all in one process run over the same JPEG/PNG bytes.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_small_people.py [--runs 5] [--sizes 416,512,640,832,1024,1280]
        [--variant input_size=416,look_windows=3 ...]

Frames: the 7 vtest street frames (43 people, boxes in tests/fixtures/vtest_people.json, matched at IoU 0.5), the
beach photo kite.jpg (10 people), the painting scream.jpg (3), the sport frame basketball1.png (2), person.jpg (1) and
4 frames without people (counts by eye in tests/fixtures/people_counts.json). "varied" is every frame but the beach.
For a frame counted by eye, found = min(boxes, people) and overcount = boxes beyond the count; on vtest, found =
matched boxes and overcount = unmatched ones. Recall and overcount are totals over the people of the set.

Cost: the median over --runs of each frame, from bytes to person boxes in original pixels, averaged over the frames
and divided by the baseline's. Baseline: cv2.imdecode (full) → blobFromImage 416×416 → OpenCV DNN darknet forward
(fp32, the store's yolov4-tiny.cfg/.weights) → NMSBoxesBatched. Vigil: Inline executor (decode, detect task), the
same path the server's workers run, without HTTP. Runs interleave paths frame by frame, so load from other processes
falls on all of them alike; on a loaded machine read the ratios, not the milliseconds.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import cv2
import numpy as np

from vigil.config.settings import VigilConfig
from vigil.config.tasks import CrowdConfig, DetectConfig
from vigil.execute.local import Inline
from vigil.imaging import images
from vigil.ops.matching import match
from vigil.registry.store import ModelStore
from vigil.runtimes import opencv_dnn
from vigil.tasks.crowd_models import DetectorCounter
from vigil.tasks.detect import DetectParams

from common import IMAGES, REPO, table

MODEL = "yolov4_tiny.coco"
BOXES = json.loads((REPO / "tests" / "fixtures" / "vtest_people.json").read_text())["frames"]
COUNTS = json.loads((REPO / "tests" / "fixtures" / "people_counts.json").read_text())["counts"]
BEACH = "kite.jpg"
PERSON = DetectParams(labels="person")


def opencv_people(net: cv2.dnn.Net, data: bytes, min_score: float = 0.4) -> np.ndarray:
    """The baseline: person boxes (xyxy) by plain OpenCV-DNN at 416×416."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    height, width = bgr.shape[:2]
    rows = np.concatenate(opencv_dnn.forward(net, bgr, 416))
    scores, classes = rows[:, 5:].max(axis=1), rows[:, 5:].argmax(axis=1)
    keep = scores > min_score
    rows, scores, classes = rows[keep], scores[keep], classes[keep]
    boxes = [[(r[0] - r[2] / 2) * width, (r[1] - r[3] / 2) * height, r[2] * width, r[3] * height] for r in rows]
    kept = np.asarray(cv2.dnn.NMSBoxesBatched(boxes, scores.tolist(), classes.tolist(), min_score, 0.45), int)
    kept = kept.reshape(-1)[classes[kept.reshape(-1)] == 0]
    xywh = np.asarray(boxes, np.float32).reshape(-1, 4)[kept]
    return np.column_stack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]])


def vigil_path(executor: Inline, tiles: bool = False) -> Callable[[bytes], np.ndarray]:
    counter = DetectorCounter(lambda px: executor.detect_frame(images.DecodedImage(px, px.shape[1], px.shape[0])),
                              CrowdConfig(tiling="always"))

    def people(data: bytes) -> np.ndarray:
        if tiles:
            frame = executor.decode(data, full_size=True)
            return counter.count(frame.pixels, True)[0].xyxy
        result, _ = executor.detect(data, params=PERSON)
        return result.detections.xyxy

    return people


def score(name: str, boxes: np.ndarray) -> tuple[int, int, int]:
    """(people, found, overcount) of one frame."""
    if name in BOXES:
        truth = np.array(BOXES[name]["boxes"])
        counts = match(boxes, np.ones(len(boxes)), truth, 0.5)
        return len(truth), counts.true_positives, counts.false_positives
    people = COUNTS[name]
    return people, min(len(boxes), people), max(0, len(boxes) - people)


def paths(store: ModelStore, sizes: list[int], variants: list[str]) -> dict[str, Callable[[bytes], np.ndarray]]:
    net = opencv_dnn.darknet_net(store.path(MODEL, "cfg"), store.path(MODEL, "weights"))
    out: dict[str, Callable[[bytes], np.ndarray]] = {"OpenCV-DNN fp32 416×416 (baseline)": lambda d: opencv_people(
        net, d)}
    fast = {size: Inline(VigilConfig(detect=DetectConfig(profile="fast", input_size=size)), store).setup()
            for size in sizes}
    for size, executor in fast.items():
        out[f"fast, input {size}"] = vigil_path(executor)
    if 512 in fast:
        out["fast 512 + 2×2 tiles (crowd tiled_detector)"] = vigil_path(fast[512], tiles=True)
    out["second_look (the default)"] = vigil_path(Inline(VigilConfig(), store).setup())
    for variant in variants:
        fields = dict(part.split("=") for part in variant.split(","))
        cfg = DetectConfig.model_validate(fields)
        out[f"second_look, {variant}"] = vigil_path(Inline(VigilConfig(detect=cfg), store).setup())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="416,512,640,832,1024,1280")
    parser.add_argument("--variant", action="append", default=[],
                        help="another second-look row: [detect] fields, e.g. input_size=416,look_windows=3")
    args = parser.parse_args()
    store = ModelStore()
    ways = paths(store, [int(s) for s in args.sizes.split(",") if s], args.variant)
    names = [*BOXES, *COUNTS]
    data = {name: (IMAGES / name).read_bytes() for name in names}
    times: dict[tuple[str, str], list[float]] = {(w, n): [] for w in ways for n in names}
    found: dict[tuple[str, str], np.ndarray] = {}
    for _ in range(args.runs):
        for name in names:
            for way, people in ways.items():
                started = time.perf_counter()
                found[way, name] = people(data[name])
                times[way, name].append((time.perf_counter() - started) * 1000)
    print(table(["path", "varied recall", "varied overcount", "beach found (of 10)", "beach boxes", "ms/frame",
                 "cost vs baseline"], rows(ways, names, times, found)))


def rows(ways, names, times, found) -> list[list[object]]:
    out = []
    base = None
    for way in ways:
        ms = float(np.mean([np.median(times[way, n]) for n in names]))
        base = base or ms
        varied = np.array([score(n, found[way, n]) for n in names if n != BEACH]).sum(axis=0)
        _, beach_found, _ = score(BEACH, found[way, BEACH])
        out.append([way, f"{varied[1] / varied[0]:.2f}", f"{varied[2] / varied[0]:.2f}", beach_found,
                    len(found[way, BEACH]), ms, f"{ms / base:.2f}×"])
    return out


if __name__ == "__main__":
    main()
