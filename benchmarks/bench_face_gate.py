"""The face gate ([faces] gate): false face candidates removed vs true faces lost, and its time per face, on
bench_face_detect.py's sets, with Vigil's detector as FaceRecognizer runs it (BlazeFace, HOG fallback on small
images). Re-run with any classify model in the store that has a "face" label:

    .venv/bin/python benchmarks/bench_face_gate.py face_gate.grey [--gate-min 0.3] [--min-score 0.6 0.3]

Several gates (the same recipe trained with `--seed 1`, `--seed 2`, ...: one run says little) are each measured,
then the true faces lost and false candidates removed are reported as mean ± std [min, max] over them:

    .venv/bin/python benchmarks/bench_face_gate.py face_gate.s1 face_gate.s2 face_gate.s3

Sets: true faces (8 photos, LFW faces ×4, 4 camera scenes with 24 faces of 16-150 px pasted into a real frame),
false candidates (LFW non-faces, every candidate on the 7 vendored camera frames of tests/fixtures/images/vtest_*:
their pedestrians' faces are under ~12 px, below what BlazeFace can find, so a candidate there is a false one; the
woman seen from behind in person.jpg). A gate trained on `vigil faces dataset --demo` has seen the LFW images: those
rows then measure fit, not generalisation; the photos and scenes are new to it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench_face_detect import WithFallback, scenes
from facesets import FACE_BOXES, IMAGES, count_hits, lfw, photos, rgb_of
from vigil.config.settings import VigilConfig
from vigil.faces.gate import FaceGate
from vigil.registry.store import ModelStore

from common import table

Item = tuple[np.ndarray, list]


def sets(rng: np.random.Generator) -> dict[str, list[Item]]:
    pics = photos()
    faces, non_faces = lfw()
    camera = [(rgb_of(p), []) for p in sorted(IMAGES.glob("vtest_*.jpg"))]
    return {
        "photos (8, 7 faces)": [(pics[n], FACE_BOXES[n]) for n in FACE_BOXES],
        "LFW faces ×4 (100)": [(f, [(50, 50, 150, 150)]) for f in faces],
        "camera scenes (4×6 faces)": scenes(pics, rng),
        "LFW non-faces (100)": [(f, []) for f in non_faces],
        "camera frames (7 vtest)": camera,
    }


class Gated:
    """The candidates as FaceRecognizer.detect gates them: BlazeFace's through the gate, then, on a small image where
    none is left, the HOG fallback's through the gate; with the gate's own time and the boxes it scored."""

    def __init__(self, detector: WithFallback, gate: FaceGate) -> None:
        self.detector, self.gate = detector, gate
        self.seconds, self.scored = 0.0, 0

    def _keep(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        if not len(boxes):
            return boxes
        started = time.perf_counter()
        keep = self.gate.keep(rgb, boxes)
        self.seconds, self.scored = self.seconds + time.perf_counter() - started, self.scored + len(boxes)
        return boxes[keep]

    def __call__(self, rgb: np.ndarray, min_score: float) -> np.ndarray:
        found = self._keep(rgb, self.detector.first(rgb, min_score).xyxy)
        if not len(found) and rgb.shape[0] * rgb.shape[1] <= self.detector.max_pixels:
            found = self._keep(rgb, self.detector.second(rgb, 0.5).xyxy)
        return found


def measure(detector: WithFallback, gate: FaceGate, items: list[Item], min_score: float) -> dict[str, float]:
    """Counts without and with the gate, and the gate's own time per scored candidate."""
    row = {"true": 0, "false": 0, "true_kept": 0, "false_kept": 0}
    gated = Gated(detector, gate)
    for rgb, truth in items:
        for key, boxes in (("", detector(rgb, min_score).xyxy), ("_kept", gated(rgb, min_score))):
            hits, false = count_hits(boxes, truth)
            row[f"true{key}"] += hits
            row[f"false{key}"] += false
    return {**row, "faces": gated.scored, "gate_s": gated.seconds}


def one_gate(store: ModelStore, detector: WithFallback, name: str, gate_min: float, min_scores: list[float]
             ) -> dict[float, dict[str, float]]:
    """Every set at every operating point through one gate: its table, and its totals per min_score."""
    gate = FaceGate.load(store, name, gate_min)
    items = sets(np.random.default_rng(0))
    rows, totals = [], {m: {} for m in min_scores}
    for min_score in min_scores:
        for label, group in items.items():
            r = measure(detector, gate, group, min_score)
            for key, value in r.items():
                totals[min_score][key] = totals[min_score].get(key, 0) + value
            per_face = f"{1000 * r['gate_s'] / r['faces']:.2f}" if r["faces"] else "-"
            rows.append([min_score, label, r["true"], r["true"] - r["true_kept"], r["false"],
                         r["false"] - r["false_kept"], per_face])
    print(f"gate {name} (gate_min {gate_min}); detector BlazeFace + HOG fallback")
    print(table(["min_score", "set", "true faces", "true lost", "false cands", "false removed", "gate ms/face"],
                rows))
    for min_score, t in totals.items():
        print(f"min_score {min_score}: true faces lost {t['true'] - t['true_kept']}/{t['true']}, false candidates "
              f"removed {t['false'] - t['false_kept']}/{t['false']}, gate "
              f"{1000 * t['gate_s'] / max(1, t['faces']):.2f} ms/face (batched per frame)")
    return totals


def spread_table(totals: dict[str, dict[float, dict[str, float]]]) -> str:
    """True faces lost and false candidates removed over the gates: mean ± std [min, max] per operating point."""
    def cell(values: list[float]) -> str:
        v = np.asarray(values, np.float64)
        return f"{v.mean():.1f} ± {v.std(ddof=1) if len(v) > 1 else 0:.1f} [{v.min():.0f}, {v.max():.0f}]"

    rows = []
    for min_score in next(iter(totals.values())):
        per = [t[min_score] for t in totals.values()]
        rows.append([min_score, len(per), int(per[0]["true"]), cell([t["true"] - t["true_kept"] for t in per]),
                     int(per[0]["false"]), cell([t["false"] - t["false_kept"] for t in per])])
    return table(["min_score", "gates", "true faces", "true lost", "false cands", "false removed"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="+", help="the gate(s): classify models in the store with a 'face' label")
    parser.add_argument("--gate-min", type=float, default=VigilConfig().faces.gate_min, help="[faces] gate_min")
    parser.add_argument("--min-score", type=float, nargs="+", default=[0.6, 0.3],
                        help="detector operating points ([faces] min_score; 0.6 is Vigil's default)")
    args = parser.parse_args()
    store = ModelStore()
    detector = WithFallback(store)
    totals = {name: one_gate(store, detector, name, args.gate_min, args.min_score) for name in args.model}
    if len(totals) > 1:
        print(f"over {len(totals)} gates ({', '.join(totals)}):")
        print(spread_table(totals))


if __name__ == "__main__":
    main()
