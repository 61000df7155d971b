"""Face search over sightings (issue 25): how fast over 100,000 sightings, and how right on the project's faces.

Speed: 100,000 sightings in a real SQLite gallery, made from real face embeddings (the 100 LFW faces of
skimage.lfw_subset, Obama's and Biden's photos) each repeated with small Gaussian noise (σ 0.02 per dimension, the
spread of one face over frames), so matches are as dense as on a camera that sees the same people all day. Timed in
one run: loading the matrix, numpy's matrix search (what vigil.faces.search uses), faiss-cpu's exact IndexFlatL2
range search when faiss is installed, and the whole `search` (matrix cached, hits read back from the database).

Accuracy, at recognition's `[faces] match_distance`: Obama's photos and their transformed copies (facesets.variants)
are filed as sightings of Obama, Biden's and the astronaut's as two stranger clusters; each of those photos is then
searched for. True accept: the share of a person's other photos found (compared with recognition's own true-accept
rate on the same probes against one enrolled photo). False return: a probe of one identity answered with another's
sighting.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_sightings.py [--n 100000] [--runs 30]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from facesets import FACE_BOXES, lfw, photos, variants
from vigil.config.settings import VigilConfig
from vigil.faces.gallery.gallery import Gallery
from vigil.faces.recognizer import FaceRecognizer
from vigil.faces.search import QueryFace, nearest, query_faces, search
from vigil.faces.sightings import NewSighting, Sightings
from vigil.imaging.images import DecodedImage
from vigil.registry.store import ModelStore

from common import p50_p95, table, timings_ms

PEOPLE = {"obama": ["obama", "obama2", "obama3", "obama_partial_face2"], "biden": ["biden"],
          "astronaut": ["astronaut"]}


def frame(rgb: np.ndarray) -> DecodedImage:
    return DecodedImage(np.ascontiguousarray(rgb), rgb.shape[1], rgb.shape[0])


def embeddings(rec: FaceRecognizer, images: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]]:
    out = []
    for who, rgb in images:
        faces, _ = query_faces(rec, frame(rgb))
        if faces:
            out.append((who, faces[0].embedding))
    return out


def unchecked(rec: FaceRecognizer, images: list[np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """The largest detected face of each image embedded without the size and focus checks (LFW's 25 px faces are
    soft: the checks refuse most, which would leave nothing to measure)."""
    out = []
    for rgb in images:
        faces = rec.detect(rgb)
        if faces:
            box = max(faces, key=lambda f: f.xyxy[2] - f.xyxy[0]).xyxy
            out.append(("lfw", rec.embed(rgb, box[None])[0][0]))
    return out


def fill(store: Sightings, gallery: Gallery, seeds: np.ndarray, n: int, rng: np.random.Generator) -> None:
    cluster = gallery.add_stranger(seeds[0], b"", "bench", 0.01)
    for start in range(0, n, 10_000):
        count = min(10_000, n - start)
        base = seeds[rng.integers(0, len(seeds), count)]
        vectors = base + rng.normal(0, 0.02, base.shape).astype(np.float32)
        store.add([NewSighting(float(start + i), f"cam{i % 8}", v, cluster_id=cluster) for i, v in enumerate(vectors)])


def speed(rec: FaceRecognizer, seeds: np.ndarray, n: int, runs: int, folder: Path) -> None:
    gallery = Gallery(folder / "speed.sqlite3")
    store = Sightings(gallery)
    fill(store, gallery, seeds, n, np.random.default_rng(0))
    threshold = rec.config.match_distance
    load = timings_ms(lambda: Sightings(gallery).matrix(), 3, warmup=0)
    ids, vectors, norms = store.matrix()
    query = seeds[3:4] + 0.01
    rows = [["load the matrix (cold, once per change)", *p50_p95(load)],
            ["numpy matrix search", *p50_p95(timings_ms(lambda: nearest(query, vectors, threshold, norms), runs))]]
    try:
        import faiss

        index = faiss.IndexFlatL2(vectors.shape[1])
        index.add(vectors)
        rows.append(["faiss-cpu IndexFlatL2 range_search",
                     *p50_p95(timings_ms(lambda: index.range_search(query, threshold ** 2), runs))])
    except ImportError:
        rows.append(["faiss-cpu (not installed)", float("nan"), float("nan")])
    face = [QueryFace((0, 0, 1, 1), query[0])]
    rows.append(["whole search: cached matrix + hits from SQLite",
                 *p50_p95(timings_ms(lambda: search(store, face, threshold), runs))])
    hits = len(search(store, face, threshold)[0].hits)
    print(f"\n{len(ids)} sightings, one query face, {hits} hits returned (capped), {runs} runs:")
    print(table(["step", "p50 ms", "p95 ms"], rows))


def accuracy(rec: FaceRecognizer, folder: Path) -> None:
    rng = np.random.default_rng(0)
    pics = photos()
    probes = [(who, f"{name}/{k}", v) for who, names in PEOPLE.items() for name in names
              for k, v in {"photo": pics[name], **variants(pics[name], FACE_BOXES[name][0], rng)}.items()]
    gallery = Gallery(folder / "accuracy.sqlite3")
    store = Sightings(gallery)
    found = {}
    for who, label, rgb in probes:
        faces, _ = query_faces(rec, frame(rgb))
        if faces:
            found[label] = (who, faces[0])
    clusters = {who: gallery.add_stranger(next(f.embedding for w, f in found.values() if w == who), b"", "b", 0.01)
                for who in PEOPLE}
    ids = {}
    for label, (who, face) in found.items():
        store.add([NewSighting(1.0, label.split("/")[0], face.embedding, cluster_id=clusters[who])])
        ids[label] = store.rows()[-1].id
    accepted, genuine, wrong, strangers = 0, 0, 0, 0
    for label, (who, face) in found.items():
        hits = search(store, [face], rec.config.match_distance, limit=10**6)[0].hits
        mine = {h.sighting.id for h in hits if h.sighting.cluster == clusters[who]}
        others = [lab for lab, (w, _) in found.items() if w == who and lab.split("/")[0] != label.split("/")[0]]
        genuine += len(others)
        accepted += sum(ids[o] in mine for o in others)
        strangers += 1
        wrong += any(h.sighting.cluster != clusters[who] for h in hits)
    lfw_faces = unchecked(rec, lfw()[0])
    lfw_wrong = sum(bool(search(store, [QueryFace((0, 0, 1, 1), v)], rec.config.match_distance)[0].hits)
                    for _, v in lfw_faces)
    print(f"\nsearch at match_distance {rec.config.match_distance}: {len(found)} photos filed as sightings "
          f"of {len(PEOPLE)} identities")
    print(table(["measure", "value"], [
        ["true accept: other photos of the same person found", f"{accepted}/{genuine} = {accepted / genuine:.3f}"],
        ["false return: a probe answered with another identity", f"{wrong}/{strangers}"],
        ["false return: LFW strangers (no focus check) answered with anyone", f"{lfw_wrong}/{len(lfw_faces)}"]]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    config = VigilConfig()
    pics = photos()
    with tempfile.TemporaryDirectory() as tmp:
        rec = FaceRecognizer.load(config, ModelStore(), Gallery(Path(tmp) / "unused.sqlite3"))
        rng = np.random.default_rng(1)
        images = [(n, v) for n in ("obama", "obama2", "obama3", "biden", "astronaut", "messi5")
                  for v in (pics[n], *variants(pics[n], FACE_BOXES[n][0], rng).values())]
        seeds = np.stack([v for _, v in embeddings(rec, images)])
        print(f"seeds: {len(seeds)} real face embeddings")
        speed(rec, seeds, args.n, args.runs, Path(tmp))
        accuracy(rec, Path(tmp))


if __name__ == "__main__":
    main()
