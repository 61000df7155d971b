"""Person presence (Visual Wake Words): accuracy, speed, size, MACs, TFLM arena, and the `[detect] presence_gate`.

    .venv/bin/python benchmarks/bench_presence.py [--runs 300] [--video vtest.avi --every 10] [--model NAME ...]

Frames with people: the seven vtest frames, person.jpg, messi5.jpg, skimage astronaut and camera, random crops of the
vtest frames holding whole people (VWW rule: one covers > 0.5% of the crop), and every `--every`th frame of vtest.avi
when given. Without people: horses, giraffe, eagle, dog.jpg, skimage coffee and chelsea, and random crops of the vtest
frames touching no person (the same camera's background: what a gate would see most). Ground truth for the video
frames and crops is the detector's (YOLOv4-tiny, default thresholds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from skimage import data as skdata

from vigil.config.settings import VigilConfig
from vigil.execute.local import Inline
from vigil.imaging import images
from vigil.registry.presence_catalog import VWW_MLPERF_TINY
from vigil.runtimes import litert, tflm
from vigil.tasks.presence import DECODE_SIDE, PresenceModel
from vigil.train.autolabel import AutolabelSettings, crop_label, crops_for

from common import IMAGES, p50_p95, table, timings_ms

WITH_PEOPLE = ["vtest_000.jpg", "vtest_060.jpg", "vtest_120.jpg", "vtest_180.jpg", "vtest_240.jpg", "vtest_300.jpg",
               "vtest_360.jpg", "person.jpg", "messi5.jpg"]
WITHOUT = ["horses.jpg", "giraffe.jpg", "eagle.jpg", "dog.jpg"]
GATES = [0.01, 0.02, 0.05, 0.1, 0.2]


def load_sets(pipe: Inline, video: Path | None, every: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    people = [images.load(IMAGES / n).pixels for n in WITH_PEOPLE] + [skdata.astronaut(), _rgb(skdata.camera())]
    empty = [images.load(IMAGES / n).pixels for n in WITHOUT] + [skdata.coffee(), skdata.chelsea()]
    rng = np.random.default_rng(0)
    for name in WITH_PEOPLE[:7]:  # crops of the camera's own scene: person-free, or holding whole people
        rgb = images.load(IMAGES / name).pixels
        boxes = _people(pipe, rgb)
        for crop in crops_for(np.zeros((0, 4)), rgb.shape[1], rgb.shape[0], AutolabelSettings(crops=40), rng):
            x0, y0, x1, y1 = crop
            if crop_label(boxes, crop, 0.0) == 0:
                empty.append(rgb[y0:y1, x0:x1])
            elif crop_label(boxes, crop, 0.005) == 1:
                people.append(rgb[y0:y1, x0:x1])
    if video:
        capture, index = cv2.VideoCapture(str(video)), 0
        while (got := capture.read())[0]:
            if index % every == 0:
                rgb = np.ascontiguousarray(got[1][:, :, ::-1])
                (people if len(_people(pipe, rgb)) else empty).append(rgb)
            index += 1
    return people, empty


def _rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[:, :, None], 3, axis=2)


def _people(pipe: Inline, rgb: np.ndarray) -> np.ndarray:
    found = pipe.detect_frame(images.DecodedImage(rgb, rgb.shape[1], rgb.shape[0]))
    return found.xyxy[found.data["class_name"] == "person"] if len(found) else np.zeros((0, 4), np.float32)


def accuracy(scores_people: list[float], scores_empty: list[float], threshold: float = 0.5) -> list[object]:
    tp = sum(s >= threshold for s in scores_people)
    tn = sum(s < threshold for s in scores_empty)
    n = len(scores_people) + len(scores_empty)
    return [f"{(tp + tn) / n:.3f}", f"{tp}/{len(scores_people)}", f"{tn}/{len(scores_empty)}"]


def macs(path: Path) -> int:
    """Multiply-accumulates of the convolutions and fully connected layers (the rest is noise)."""
    interp = litert.interpreter(path, threads=1, builtin_kernels=True)
    shapes = {t["index"]: t["shape"] for t in interp.get_tensor_details()}
    total = 0
    for op in interp._get_ops_details():
        name, (out,) = op["op_name"], op["outputs"][:1]
        if name == "CONV_2D":
            total += int(np.prod(shapes[out])) * int(np.prod(shapes[op["inputs"][1]][1:]))
        elif name == "DEPTHWISE_CONV_2D":
            total += int(np.prod(shapes[out])) * int(np.prod(shapes[op["inputs"][1]][1:3]))
        elif name == "FULLY_CONNECTED":
            total += int(np.prod(shapes[op["inputs"][1]]))
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--video", type=Path, default=None, help="vtest.avi (Debian opencv-doc) for the gate")
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--model", action="append", default=[],
                        help="also score this store model (a LiteRT export trained on `vigil presence` data)")
    args = parser.parse_args()

    pipe = Inline(VigilConfig()).setup()
    model = PresenceModel.open(pipe.store, VWW_MLPERF_TINY)
    path = pipe.store.path(VWW_MLPERF_TINY, "model")
    builtin = PresenceModel(model.spec, BuiltinKernels(path))
    people, empty = load_sets(pipe, args.video, args.every)

    print(f"\n## Accuracy at 0.5 ({len(people)} frames with people, {len(empty)} without)\n")
    rows = []
    others = [(name, PresenceModel.open(pipe.store, name)) for name in args.model]
    for label, m in (("LiteRT XNNPACK (serving)", model), ("LiteRT built-in kernels = TFLM", builtin), *others):
        rows.append([label, *accuracy(m.scores(people), m.scores(empty))])
    print(table(["runtime", "accuracy", "people found", "empty right"], rows))

    tensors = [model.tensor(rgb) for rgb in people + empty]
    step = tflm.litert_output_step(litert.interpreter(path, 1, builtin_kernels=True))
    xnn, ref = model.scores(people + empty), builtin.scores(people + empty)
    lsb = [abs(a - b) / step for a, b in zip(xnn, ref, strict=True)]
    same = sum((a >= 0.5) == (b >= 0.5) for a, b in zip(xnn, ref, strict=True))
    print(f"\nXNNPACK vs built-in kernels: max {max(lsb):.0f} LSB, median {np.median(lsb):.0f} LSB of the person score;"
          f" same answer on {same}/{len(xnn)}")

    print("\n## Speed, size, MACs, TFLM arena\n")
    frame = images.load(IMAGES / "vtest_120.jpg", fit=(DECODE_SIDE, DECODE_SIDE))
    jpeg = (IMAGES / "vtest_120.jpg").read_bytes()
    micro = tflm.interpreter(path.read_bytes())
    rows = [
        ["decode 768×576 JPEG (reduced to 192×144)", *p50_p95(timings_ms(
            lambda: images.decode(jpeg, fit=(DECODE_SIDE, DECODE_SIDE)), args.runs))],
        ["preprocess (stretch to 96², float)", *p50_p95(timings_ms(lambda: model.tensor(frame.pixels), args.runs))],
        ["LiteRT XNNPACK inference, 1 thread", *p50_p95(timings_ms(lambda: model.session.run([tensors[0]]),
                                                                   args.runs))],
        ["LiteRT built-in kernels, 1 thread", *p50_p95(timings_ms(lambda: builtin.session.run([tensors[0]]),
                                                                  max(1, args.runs // 10)))],
        ["TFLM reference kernels (Python)", *p50_p95(timings_ms(lambda: tflm.run(micro, tensors[0]), 10))],
    ]
    print(table(["step", "p50 ms", "p95 ms"], rows))
    arena = tflm.smallest_arena(path.read_bytes(), tensors[0])
    print(f"\nmodel {path.stat().st_size:,} bytes; {macs(path) / 1e6:.2f} M MACs; TFLM arena {arena:,} bytes")

    print("\n## [detect] presence_gate: detector calls avoided vs people missed\n")
    s_people, s_empty = model.scores(people), model.scores(empty)
    counts = [len(_people(pipe, rgb)) for rgb in people]
    rows = []
    for gate in GATES:
        skipped = [s < gate for s in s_people]
        rows.append([gate, f"{sum(s < gate for s in s_empty)}/{len(empty)}", f"{sum(skipped)}/{len(people)}",
                     sum(c for c, k in zip(counts, skipped, strict=True) if k)])
    print(table(["gate", "empty frames skipped", "frames with people skipped", "people missed"], rows))


class BuiltinKernels:
    """A session on LiteRT's own int8 kernels (what TFLM's reference kernels compute), for comparison."""

    def __init__(self, path: Path) -> None:
        self._interp = litert.interpreter(path, 1, builtin_kernels=True)
        detail = self._interp.get_input_details()[0]
        self.input_shape, self.input_dtype = list(detail["shape"]), detail["dtype"]
        self.input_quantization = detail["quantization"]
        self.output_quantization = [d["quantization"] for d in self._interp.get_output_details()]

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return litert.run(self._interp, inputs)


if __name__ == "__main__":
    main()
