"""Average-linkage agglomerative clustering of face embeddings (Euclidean), in numpy: the stranger
counts are small (≤ a few thousand), so the O(n²) distance matrix is cheap and scipy is not needed."""

from __future__ import annotations

import numpy as np


def pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances (len(a), len(b))."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(sq, 0, None))


def agglomerate(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Cluster labels (n,): merge the two clusters with the smallest mean pairwise distance until it
    exceeds `threshold`."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, np.int64)
    dist = pairwise(vectors, vectors)
    sizes = np.ones(n)
    linkage = dist.copy()
    np.fill_diagonal(linkage, np.inf)
    labels = np.arange(n)
    alive = np.ones(n, bool)
    while alive.sum() > 1:
        i, j = np.unravel_index(np.argmin(linkage), linkage.shape)
        if linkage[i, j] > threshold:
            break
        # Lance-Williams update for average linkage: the merged row is the size-weighted mean
        merged = (sizes[i] * linkage[i] + sizes[j] * linkage[j]) / (sizes[i] + sizes[j])
        linkage[i, :] = merged
        linkage[:, i] = merged
        linkage[i, i] = np.inf
        linkage[j, :] = np.inf
        linkage[:, j] = np.inf
        sizes[i] += sizes[j]
        alive[j] = False
        labels[labels == j] = i
    _, dense = np.unique(labels, return_inverse=True)
    return dense.astype(np.int64)
