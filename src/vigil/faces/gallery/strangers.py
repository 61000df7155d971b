"""Provisional people: faces that matched nobody, grouped across images so a user can name them later.

Online: a new stranger joins the cluster holding its nearest stranger when that one is within
`cluster_distance`, else starts a cluster; a face nearly identical to one already kept (same person,
same moment) only bumps the cluster's sighting count, so a loitering stranger does not fill the file.
Offline, `recluster` rebuilds all clusters with average-linkage agglomeration (vigil.ops.cluster),
which also merges clusters that online assignment split. Naming a cluster moves its faces into the
gallery as samples of that person, in one transaction. A cluster id is never given out twice (events and users
refer to clusters by id): SQLite keeps the highest id handed out in `meta`, PostgreSQL's identity never goes back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from vigil.errors import NotFound
from vigil.faces.gallery.schema import person_name, to_vectors
from vigil.ops.cluster import agglomerate

DUPLICATE_DISTANCE = 0.15  # closer than this to a kept stranger face: the same sighting again
LAST_CLUSTER = "last_cluster"  # `meta` key (SQLite): the highest cluster id handed out
MAX_STRANGERS = 5000


@dataclass(frozen=True)
class StrangerCluster:
    id: int
    faces: int
    sightings: int
    first_seen: float
    last_seen: float
    sample_id: int  # a stranger row whose thumbnail shows the cluster


class StrangerStore:
    """Mixed into Gallery; uses its `_conn`, `_write`, `_vec` and `_ensure_person`."""

    def _stranger_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self._conn.execute("SELECT cluster_id, embedding FROM strangers ORDER BY id").fetchall()
        return to_vectors([r[1] for r in rows]), np.array([r[0] for r in rows], np.int64)

    def add_stranger(self, embedding: np.ndarray, thumbnail: bytes = b"", source: str = "",
                     cluster_distance: float = 0.5) -> int:
        """File a face that matched nobody; returns its provisional cluster id."""
        blob = self._vec(embedding)
        with self._write(matrix=False) as c:  # strangers are not in the match matrix
            vectors, clusters = self._stranger_vectors()
            now = time.time()
            if len(vectors):
                dist = np.linalg.norm(vectors - np.asarray(embedding, np.float32), axis=1)
                nearest = int(np.argmin(dist))
                if dist[nearest] <= cluster_distance:
                    cid = int(clusters[nearest])
                    c.execute("UPDATE clusters SET last_seen = ?, sightings = sightings + 1 WHERE id = ?", (now, cid))
                    if dist[nearest] > DUPLICATE_DISTANCE and len(vectors) < MAX_STRANGERS:
                        c.execute("INSERT INTO strangers(cluster_id, embedding, thumbnail, source, created) "
                                  "VALUES (?, ?, ?, ?, ?)", (cid, blob, thumbnail, source, now))
                    return cid
            if len(vectors) >= MAX_STRANGERS:
                return -1
            cid = self._new_cluster(c, now, now, 1)
            c.execute("INSERT INTO strangers(cluster_id, embedding, thumbnail, source, created) VALUES (?, ?, ?, ?, ?)",
                      (cid, blob, thumbnail, source, now))
            return int(cid)

    def _new_cluster(self, c: Any, created: float, last_seen: float, sightings: int) -> int:
        """A fresh cluster id, above every id ever handed out (SQLite would reuse a deleted highest id)."""
        row = c.execute("SELECT value FROM meta WHERE key = ?", (LAST_CLUSTER,)).fetchone()
        highest = c.execute("SELECT COALESCE(MAX(id), 0) FROM clusters").fetchone()[0]
        cid = max(int(row[0]) if row else 0, int(highest)) + 1
        c.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                  (LAST_CLUSTER, str(cid)))
        c.execute("INSERT INTO clusters(id, created, last_seen, sightings) VALUES (?, ?, ?, ?)",
                  (cid, created, last_seen, sightings))
        return cid

    def clusters_near(self, embedding: np.ndarray, distance: float) -> list[int]:
        """Provisional clusters holding a face within `distance` of `embedding` (the same person, once named)."""
        vectors, clusters = self._stranger_vectors()
        if not len(vectors):
            return []
        near = np.linalg.norm(vectors - np.asarray(embedding, np.float32).reshape(1, -1), axis=1) <= distance
        return sorted({int(c) for c in clusters[near]})

    def unknowns(self) -> list[StrangerCluster]:
        rows = self._conn.execute(
            "SELECT c.id, COUNT(s.id), c.sightings, c.created, c.last_seen, MIN(s.id) FROM clusters c "
            "JOIN strangers s ON s.cluster_id = c.id GROUP BY c.id ORDER BY c.sightings DESC, c.id").fetchall()
        return [StrangerCluster(*r) for r in rows]

    def stranger_thumbnail(self, stranger_id: int) -> bytes:
        row = self._conn.execute("SELECT thumbnail FROM strangers WHERE id = ?", (stranger_id,)).fetchone()
        if row is None:
            raise NotFound(f"no stranger face {stranger_id}")
        return bytes(row[0] or b"")

    def cluster_faces(self, cluster_id: int, limit: int = 6) -> list[int]:
        """Ids of up to `limit` kept faces of one cluster (for thumbnails), oldest first."""
        rows = self._conn.execute("SELECT id FROM strangers WHERE cluster_id = ? ORDER BY id LIMIT ?",
                                  (cluster_id, limit)).fetchall()
        return [int(r[0]) for r in rows]

    def dismiss_cluster(self, cluster_id: int) -> int:
        """Forget a provisional cluster and its faces (not a person worth naming); returns the faces removed."""
        with self._write() as c:
            count = c.execute("SELECT COUNT(*) FROM strangers WHERE cluster_id = ?", (cluster_id,)).fetchone()[0]
            if not c.execute("SELECT 1 FROM clusters WHERE id = ?", (cluster_id,)).fetchone():
                raise NotFound(f"no unknown cluster {cluster_id}")
            c.execute("DELETE FROM clusters WHERE id = ?", (cluster_id,))
        return int(count)

    def name_cluster(self, cluster_id: int, name: str) -> int:
        """Make a provisional cluster a person (new, or an existing one); returns samples moved."""
        name = person_name(name)
        with self._write() as c:
            rows = c.execute("SELECT embedding, thumbnail, source FROM strangers WHERE cluster_id = ?",
                             (cluster_id,)).fetchall()
            if not rows:
                raise NotFound(f"no unknown cluster {cluster_id}; see `vigil faces unknowns`")
            pid = self._ensure_person(c, name)
            now = time.time()
            c.executemany("INSERT INTO samples(person_id, embedding, file_hash, source, thumbnail, created) "
                          "VALUES (?, ?, NULL, ?, ?, ?)",
                          [(pid, r[0], r[2] or f"cluster {cluster_id}", r[1], now) for r in rows])
            # its sightings are the person's from now on (vigil.faces.sightings)
            c.execute("UPDATE sightings SET person_id = ?, cluster_id = NULL WHERE cluster_id = ?", (pid, cluster_id))
            c.execute("DELETE FROM clusters WHERE id = ?", (cluster_id,))
        return len(rows)

    def recluster(self, cluster_distance: float = 0.5) -> int:
        """Rebuild every provisional cluster from scratch; returns the number of clusters."""
        with self._write() as c:
            rows = c.execute("SELECT id, embedding FROM strangers ORDER BY id").fetchall()
            if not rows:
                return 0
            groups = agglomerate(to_vectors([r[1] for r in rows]), cluster_distance)
            old = dict((r[0], r[1:]) for r in c.execute("SELECT id, created, last_seen, sightings FROM clusters"))
            members = {r[0]: r[1] for r in c.execute("SELECT id, cluster_id FROM strangers")}
            sizes = {cid: n for cid, n in c.execute("SELECT cluster_id, COUNT(*) FROM strangers GROUP BY cluster_id")}
            for label in np.unique(groups):
                ids = [rows[i][0] for i in np.flatnonzero(groups == label)]
                stats = [old[members[i]] for i in ids if members[i] in old]
                created = min(s[0] for s in stats) if stats else time.time()
                last = max(s[1] for s in stats) if stats else created
                # an old cluster's sightings are shared out over its kept faces, wherever they now belong
                seen = sum(old[members[i]][2] / sizes[members[i]] for i in ids if members[i] in old)
                cid = self._new_cluster(c, created, last, max(len(ids), round(seen)))
                c.executemany("UPDATE strangers SET cluster_id = ? WHERE id = ?", [(cid, i) for i in ids])
            # sightings follow their old cluster's first kept face into its new cluster
            firsts: dict[int, int] = {}
            for face, old_cid in sorted(members.items(), reverse=True):
                firsts[old_cid] = face
            c.executemany("UPDATE sightings SET cluster_id = (SELECT cluster_id FROM strangers WHERE id = ?) "
                          "WHERE cluster_id = ?", [(first, old_cid) for old_cid, first in firsts.items()])
            c.execute("DELETE FROM clusters WHERE id NOT IN (SELECT DISTINCT cluster_id FROM strangers)")
            return len(np.unique(groups))
