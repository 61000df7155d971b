"""Face search: "was this person here before?" Every usable face of a photo against every kept sighting.

Matrix search in numpy, chosen by measurement (benchmarks/bench_sightings.py: 100,000 sightings answer in a few ms,
as fast as faiss-cpu's exact index and with no new dependency): squared distances from one matrix product,
|q|² + |v|² − 2 q·v, on the sightings' embeddings cached by vigil.faces.sightings. A sighting is a hit when its
distance is within recognition's calibrated `[faces] match_distance`, the same bar that gives a face a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vigil.faces.sightings import SightingRow, Sightings, squared_norms
from vigil.imaging.images import DecodedImage
from vigil.registry.face_catalog import EMBED_DIM

MAX_FACES = 20  # faces of one search photo looked up (the largest); more are counted, not searched
MAX_HITS = 100  # sightings returned per face, newest first


@dataclass(frozen=True)
class QueryFace:
    box: tuple[float, float, float, float]  # xyxy, original pixels
    embedding: np.ndarray


@dataclass(frozen=True)
class Hit:
    sighting: SightingRow
    similarity: float  # 1 − distance, as recognition reports it


@dataclass(frozen=True)
class FaceHits:
    face: QueryFace
    hits: list[Hit]


def nearest(queries: np.ndarray, vectors: np.ndarray, max_distance: float, norms: np.ndarray | None = None
            ) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each query, (row indices, distances) of the vectors within `max_distance`; `norms`: the vectors' squared
    lengths, when the caller keeps them."""
    queries = np.asarray(queries, np.float32).reshape(len(queries), EMBED_DIM)
    if not len(vectors) or not len(queries):
        return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in range(len(queries))]
    norms = squared_norms(vectors) if norms is None else norms
    squared = norms[None, :] + squared_norms(queries)[:, None] - 2.0 * (queries @ vectors.T)
    out = []
    for row in squared:
        within = np.flatnonzero(row <= max_distance * max_distance)
        out.append((within, np.sqrt(np.maximum(row[within], 0.0))))
    return out


def search(store: Sightings, faces: list[QueryFace], max_distance: float, limit: int = MAX_HITS) -> list[FaceHits]:
    """Each face's sightings within `max_distance`, newest first, at most `limit`. Sightings are filed as they
    happen, so the newest are the highest ids: only those `limit` (and a margin for rows deleted meanwhile) are
    read back, with names as they are now."""
    ids, vectors, norms = store.matrix()
    queries = np.array([f.embedding for f in faces], np.float32).reshape(len(faces), EMBED_DIM)
    found = [(within[-2 * limit:], d[-2 * limit:]) for within, d in nearest(queries, vectors, max_distance, norms)]
    rows = store.by_ids({int(ids[i]) for within, _ in found for i in within})
    answers = []
    for face, (within, distances) in zip(faces, found, strict=True):
        hits = [Hit(rows[int(ids[i])], round(float(max(0.0, 1.0 - d)), 4))
                for i, d in zip(within, distances, strict=True) if int(ids[i]) in rows]
        hits.sort(key=lambda h: (-h.sighting.seen, -h.sighting.id))
        answers.append(FaceHits(face, hits[:limit]))
    return answers


def query_faces(recognizer: Any, frame: DecodedImage) -> tuple[list[QueryFace], int]:
    """The usable faces of a search photo, largest first (at most MAX_FACES), and how many faces it showed."""
    faces = recognizer.detect(frame.pixels)
    for f in faces:
        f.quality = recognizer._quality(frame.pixels, f.xyxy, frame.scale)
    usable = sorted((f for f in faces if f.quality == "ok"), key=lambda f: -(f.xyxy[2] - f.xyxy[0]))[:MAX_FACES]
    vectors, _ = recognizer.embed(frame.pixels, np.array([f.xyxy for f in usable], np.float32))
    return [QueryFace(tuple(float(v) / frame.scale for v in f.xyxy), vectors[k])
            for k, f in enumerate(usable)], len(faces)
