"""Face detector table: recall, false detections and speed of BlazeFace full-range, dlib HOG, dlib MMOD and YuNet
on real faces (see facesets.py), in one process on this machine.

    .venv/bin/python benchmarks/bench_face_detect.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from facesets import FACE_BOXES, count_hits, face_crop, lfw, photos, small_faces_scene
from vigil.config.settings import VigilConfig
from vigil.registry.face_catalog import BLAZEFACE, DLIB_HOG, DLIB_MMOD, FACE_DETECTORS, YUNET
from vigil.registry.store import ModelStore
from vigil.tasks.face_detect import load_face_detector

WIDTHS = [16, 20, 24, 32, 40, 56, 80, 110, 150]
# each detector at its default operating point: BlazeFace and YuNet at Vigil's faces.min_score, dlib's at margin 0
FACE_SCORE = VigilConfig().faces.min_score
THRESHOLDS = {BLAZEFACE: FACE_SCORE, DLIB_HOG: 0.5, DLIB_MMOD: 0.5, YUNET: FACE_SCORE}


def scenes(pics: dict, rng) -> list[tuple[np.ndarray, list]]:
    heads = [face_crop(pics[n], FACE_BOXES[n][0]) for n in ("astronaut", "obama", "obama2", "biden", "obama3")]
    out = []
    for k in range(4):
        order = rng.permutation(len(WIDTHS))
        widths = [WIDTHS[i] for i in order][:6]
        out.append(small_faces_scene([heads[(k + i) % len(heads)] for i in range(6)], widths, rng))
    return out


def run(detector, items, min_score: float) -> tuple[int, int, int, float]:
    hits = total = false = 0
    start = time.perf_counter()
    for rgb, truth in items:
        found = detector(rgb, min_score).xyxy
        h, f = count_hits(found, truth)
        hits, false, total = hits + h, false + f, total + len(truth)
    return hits, total, false, (time.perf_counter() - start) / max(1, len(items))


class WithFallback:
    """Vigil's default as FaceRecognizer runs it: BlazeFace, then HOG on small images where it found none."""

    name = "blazeface + HOG fallback"

    def __init__(self, store: ModelStore) -> None:
        cfg = VigilConfig().faces
        self.first, self.second = load_face_detector(store, BLAZEFACE), load_face_detector(store, DLIB_HOG)
        self.max_pixels = cfg.fallback_max_pixels

    def __call__(self, rgb: np.ndarray, min_score: float):
        found = self.first(rgb, min_score)
        if not len(found) and rgb.shape[0] * rgb.shape[1] <= self.max_pixels:
            found = self.second(rgb, 0.5)
        return found


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    rng = np.random.default_rng(0)
    store = ModelStore()
    pics = photos()
    faces, non_faces = lfw()
    sets = {
        "photos (8, 7 faces)": [(pics[n], FACE_BOXES[n]) for n in FACE_BOXES],
        "LFW faces ×4 (100)": [(f, [(50, 50, 150, 150)]) for f in faces],
        "LFW non-faces (100)": [(f, []) for f in non_faces],
        "camera scenes (4×6 faces 16-150 px)": scenes(pics, rng),
    }
    print(f"{'detector':<26}{'set':<38}{'recall':>12}{'false':>7}{'ms/img':>9}")
    for name in (*FACE_DETECTORS, WithFallback.name):
        if name == WithFallback.name:
            detector = WithFallback(store)
        else:
            store.pull(name)
            detector = load_face_detector(store, name)
        for label, items in sets.items():
            if name.startswith("dlib_mmod") and label.startswith("LFW"):
                items = items[:25]  # MMOD is slow; a quarter of the set
            hits, total, false, secs = run(detector, items, THRESHOLDS.get(name, THRESHOLDS[BLAZEFACE]))
            recall = f"{hits}/{total}" if total else "-"
            print(f"{name:<26}{label:<38}{recall:>12}{false:>7}{secs * 1000:>9.1f}")


if __name__ == "__main__":
    main()
