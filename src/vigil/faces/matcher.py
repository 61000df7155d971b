"""Open-set nearest-neighbour matching against the gallery, with two thresholds and negative feedback.

A face's distance to a person is its Euclidean distance to that person's nearest sample. The nearest
person is the answer when that distance is ≤ `match_distance`; beyond `unknown_distance` the face is a
stranger ("unknown"); in between it is "uncertain" (a name would be a guess). Feedback ("this face is not
NAME") vetoes NAME for any face closer to one of those rejected faces than to NAME's own samples, so the
same mistake is not repeated while other faces of NAME still match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.faces.gallery.gallery import GalleryMatrix
from vigil.ops.cluster import pairwise

UNKNOWN = "unknown"
UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class Match:
    name: str  # a person's name, "unknown" or "uncertain"
    distance: float  # to the nearest eligible person (inf with an empty gallery)
    person_id: int  # -1 unless `name` is a person
    candidate: str = ""  # the nearest person, also when the answer is uncertain

    @property
    def similarity(self) -> float:
        """1 − distance, floored at 0: dlib's usual 0.6 distance is 0.4 similarity."""
        return float(max(0.0, 1.0 - self.distance)) if np.isfinite(self.distance) else 0.0


def person_distances(queries: np.ndarray, m: GalleryMatrix) -> tuple[np.ndarray, np.ndarray]:
    """(n, p) distance of each query to each person's nearest sample (vetoed persons: inf), and the ids."""
    ids = np.unique(m.person_ids)
    out = np.full((len(queries), len(ids)), np.inf, np.float32)
    if not len(ids) or not len(queries):
        return out, ids
    dist = pairwise(queries, m.embeddings)
    column = np.searchsorted(ids, m.person_ids)
    for j in range(len(ids)):
        out[:, j] = dist[:, column == j].min(axis=1)
    if len(m.negatives):
        neg = pairwise(queries, m.negatives)
        for j, pid in enumerate(ids):
            mine = m.negative_ids == pid
            if mine.any():
                out[neg[:, mine].min(axis=1) < out[:, j], j] = np.inf
    return out, ids


def match(queries: np.ndarray, m: GalleryMatrix, match_distance: float, unknown_distance: float) -> list[Match]:
    dist, ids = person_distances(np.asarray(queries, np.float32).reshape(-1, 128), m)
    out = []
    for row in dist:
        if not len(row) or not np.isfinite(row).any():
            out.append(Match(UNKNOWN, float("inf"), -1))
            continue
        j = int(np.argmin(row))
        d, pid = float(row[j]), int(ids[j])
        name = m.names.get(pid, str(pid))
        if d <= match_distance:
            out.append(Match(name, d, pid, name))
        elif d > unknown_distance:
            out.append(Match(UNKNOWN, d, -1, name))
        else:
            out.append(Match(UNCERTAIN, d, -1, name))
    return out
