"""Open-set recognition on real faces at Vigil's default thresholds, and how those were calibrated.

Enrolled from ONE photo each: Obama (obama.jpg), Eileen Collins (skimage astronaut), Messi (messi5.jpg).
Genuine probes: Obama's three other real photos, and transformed copies (scale ½ and ¾, two person-style
crops, brightness ×0.6 / ×1.4, JPEG quality 20 / 40, greyscale) of every photo of the enrolled people.
Strangers: Joe Biden (photo + the same transforms) and the 100 LFW faces of skimage.lfw_subset (25 px,
upscaled ×4; these are soft, so most are refused by the focus check before matching, which is the point of
that check; their distances are still measured below without it).

    .venv/bin/python benchmarks/bench_recognition.py [--embedder sface.int8]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from facesets import FACE_BOXES, lfw, photos, variants
from vigil.config.settings import VigilConfig
from vigil.faces.enroll import enroll
from vigil.faces.gallery.gallery import Gallery
from vigil.faces.matcher import person_distances
from vigil.faces.recognizer import FaceRecognizer
from vigil.imaging.images import DecodedImage
from vigil.registry.store import ModelStore

ENROL = {"Obama": "obama", "Eileen": "astronaut", "Messi": "messi5"}
GENUINE = {"Obama": ["obama", "obama2", "obama3", "obama_partial_face2"], "Eileen": ["astronaut"],
           "Messi": ["messi5"]}
STRANGER_PHOTOS = ["biden"]


def probes(pics: dict, names: list[str], rng) -> list[tuple[str, np.ndarray]]:
    out = []
    for n in names:
        out.append((n, pics[n]))
        out += [(f"{n}/{k}", v) for k, v in variants(pics[n], FACE_BOXES[n][0], rng).items()]
    return out


def answer(rec: FaceRecognizer, rgb: np.ndarray) -> tuple[str, float, str]:
    """(name, distance to the nearest person, quality) of the largest face, or ("no face", inf, "")."""
    found = rec.recognize(DecodedImage(rgb, rgb.shape[1], rgb.shape[0]))
    if not len(found):
        return "no face", float("inf"), ""
    k = int(np.argmax(found.area))
    return str(found.data["name"][k]), 1 - float(found.data["similarity"][k]), str(found.data["quality"][k])


def nearest(rec: FaceRecognizer, rgb: np.ndarray) -> tuple[str, float]:
    """Nearest enrolled person and distance for the largest detected face, without the focus check."""
    faces = rec.detect(rgb)
    if not faces:
        return "no face", float("inf")
    best = max(faces, key=lambda f: (f.xyxy[2] - f.xyxy[0]))
    vector = rec.embed(rgb, best.xyxy[None])[0]
    m = rec.gallery.matrix()
    dist, ids = person_distances(vector, m)
    j = int(np.argmin(dist[0]))
    return m.names[int(ids[j])], float(dist[0, j])


def rates(rows, threshold: float) -> tuple[float, float]:
    genuine = [(truth, name, d) for truth, name, d in rows if truth != "stranger" and np.isfinite(d)]
    strangers = [(truth, name, d) for truth, name, d in rows if truth == "stranger" and np.isfinite(d)]
    ta = np.mean([name == truth and d <= threshold for truth, name, d in genuine])
    fa = np.mean([d <= threshold for _, _, d in strangers])
    return float(ta), float(fa)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default=VigilConfig().faces.embedder, help="[faces] embedder to measure")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pics = photos()
    cfg = VigilConfig()
    cfg.faces.record_strangers = False
    cfg.faces.embedder = args.embedder
    with tempfile.TemporaryDirectory() as tmp:
        rec = FaceRecognizer.load(cfg, ModelStore(), Gallery(Path(tmp) / "g.sqlite3"))
        for person, photo in ENROL.items():
            import cv2

            path = Path(tmp) / f"{photo}.png"
            cv2.imwrite(str(path), cv2.cvtColor(pics[photo], cv2.COLOR_RGB2BGR))
            assert enroll(rec, person, [path]).samples == 1, person
        genuine = [(p, label, rgb) for p, names in GENUINE.items() for label, rgb in probes(pics, names, rng)]
        strangers = [("stranger", label, rgb) for label, rgb in probes(pics, STRANGER_PHOTOS, rng)]
        strangers += [("stranger", f"lfw{i}", rgb) for i, rgb in enumerate(lfw()[0])]
        counts = {"genuine named right": 0, "genuine named wrong": 0, "genuine uncertain": 0,
                  "genuine unknown": 0, "genuine no usable face": 0, "stranger named (false accept)": 0,
                  "stranger uncertain": 0, "stranger unknown": 0, "stranger no usable face": 0}
        rows, unusable = [], []
        for truth, label, rgb in genuine + strangers:
            name, _, quality = answer(rec, rgb)
            kind = "stranger" if truth == "stranger" else "genuine"
            if name == "no face" or quality != "ok":
                counts[f"{kind} no usable face"] += 1
                if kind == "genuine":
                    unusable.append(f"{label} ({quality or 'none found'})")
            elif name in ("unknown", "uncertain"):
                counts[f"{kind} {name}"] += 1
            elif kind == "stranger":
                counts["stranger named (false accept)"] += 1
            else:
                counts["genuine named right" if name == truth else "genuine named wrong"] += 1
            rows.append((truth, *nearest(rec, rgb)))
        n_gen, n_str = len(genuine), len(strangers)
        print(f"probes: {n_gen} genuine, {n_str} strangers; defaults match ≤ {cfg.faces.match_distance}, "
              f"unknown > {cfg.faces.unknown_distance}")
        for key, value in counts.items():
            total = n_gen if key.startswith("genuine") else n_str
            print(f"  {key:<34}{value:>5}/{total:<5}{value / total:>7.1%}")
        usable_gen = n_gen - counts["genuine no usable face"]
        usable_str = n_str - counts["stranger no usable face"]
        print(f"true-accept rate (usable genuine faces): {counts['genuine named right'] / max(1, usable_gen):.1%}; "
              f"false-accept rate (usable stranger faces): "
              f"{counts['stranger named (false accept)'] / max(1, usable_str):.1%}")
        print("genuine probes without a usable face:", ", ".join(unusable))
        gen_d = np.array([d for t, n, d in rows if t != "stranger" and np.isfinite(d)])
        str_d = np.array([d for t, n, d in rows if t == "stranger" and np.isfinite(d)])
        print("\ncalibration (distance to nearest enrolled person, every detected face, no focus check):")
        print(f"  genuine  n={len(gen_d):<4} p50 {np.median(gen_d):.3f}  p95 {np.percentile(gen_d, 95):.3f}  "
              f"max {gen_d.max():.3f}")
        print(f"  stranger n={len(str_d):<4} min {str_d.min():.3f}  p5 {np.percentile(str_d, 5):.3f}  "
              f"p50 {np.median(str_d):.3f}")
        print(f"  {'match ≤':>10}{'TA':>8}{'FA':>8}")
        for threshold in (0.4, 0.45, 0.5, 0.55, 0.6, 0.65):
            ta, fa = rates(rows, threshold)
            print(f"  {threshold:>10.2f}{ta:>8.1%}{fa:>8.1%}")


if __name__ == "__main__":
    main()
