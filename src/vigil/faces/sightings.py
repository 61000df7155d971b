"""Sightings: every recognised or stranger face a watched camera showed, kept in the gallery's database (SQLite or
PostgreSQL, the `sightings` table of gallery migration 5) so visits can be listed and a face searched for later.

A sighting holds its time, camera, event and track (the person track the face was on; null when on none), a bounded
JPEG of the aligned face chip, its best-face quality (vigil.faces.best) and its embedding, and belongs to exactly one
identity: a person or a stranger cluster. Both references cascade, so removing a person or dismissing a cluster takes
its sightings too.

Writes go through the gallery's write transaction (SQLite BEGIN IMMEDIATE; PostgreSQL's gallery advisory lock), so a
sighting is filed only if its identity still exists at that moment: forgetting someone while they are being sighted
leaves either every row or none. Search reads embeddings into one matrix, cached and topped up incrementally
(rows only ever get added at the end, a deletion forces a reload).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from vigil.db.sqlite_file import reclaim
from vigil.errors import BadInput, NotFound
from vigil.faces.gallery.schema import person_name, to_vectors
from vigil.registry.face_catalog import EMBED_DIM

FORGETS = "sightings_forgets"  # a count in `meta`, moved by every forget: search caches everywhere reload
MAX_CROP_BYTES = 64 * 1024  # a face chip JPEG is ~5 KB; anything bigger is not kept
_COLUMNS = ("s.id, s.seen, s.camera, s.event_id, s.track_id, p.name, s.cluster_id, s.quality")


@dataclass(frozen=True)
class Who:
    """One identity: a person by name, or a stranger cluster by id."""

    name: str | None = None
    cluster: int | None = None

    def __post_init__(self) -> None:
        if (self.name is None) == (self.cluster is None):
            raise BadInput("an identity is a person name or a stranger cluster, not both or neither")

    @classmethod
    def parse(cls, text: str) -> Who:
        """`cluster:12`, a bare number (a stranger cluster), `name:12` (a person named with digits), or a name."""
        text = text.strip()
        if text.startswith("name:"):
            return cls(name=person_name(text.removeprefix("name:")))
        number = text.removeprefix("cluster:").strip()
        if number.isdigit():
            return cls(cluster=int(number))
        return cls(name=person_name(text))


@dataclass(frozen=True)
class NewSighting:
    seen: float
    camera: str
    embedding: np.ndarray
    person_id: int | None = None
    cluster_id: int | None = None
    event_id: int | None = None
    track_id: int | None = None
    crop: bytes = b""
    quality: float = 0.0


@dataclass(frozen=True)
class SightingRow:
    id: int
    seen: float
    camera: str
    event_id: int | None
    track_id: int | None
    name: str | None
    cluster: int | None
    quality: float

    @property
    def who(self) -> Who:
        return Who(name=self.name) if self.cluster is None else Who(cluster=self.cluster)


class Sightings:
    """The sightings of one gallery (a Gallery or PostgresGallery: its connections, write transaction and vectors)."""

    def __init__(self, gallery: object) -> None:
        self.gallery = gallery
        self._cache: tuple | None = None  # lowest id, highest id, ids, embeddings, squared lengths, forgets
        self._lock = threading.Lock()

    @property
    def _conn(self):
        return self.gallery._conn

    # --- writing ------------------------------------------------------------------------------------------------
    def add(self, rows: Sequence[NewSighting]) -> int:
        """File sightings in one transaction; those whose person or cluster no longer exists are left out.
        Returns how many were kept."""
        if not rows:
            return 0
        with self.gallery._write(matrix=False) as c:  # the match matrix stays
            people = {r.person_id for r in rows if r.person_id is not None}
            clusters = {r.cluster_id for r in rows if r.cluster_id is not None}
            live_people = _existing(c, "people", people)
            live_clusters = _existing(c, "clusters", clusters)
            kept = [r for r in rows if (r.person_id in live_people) or (r.cluster_id in live_clusters)]
            c.executemany(
                "INSERT INTO sightings(seen, camera, event_id, track_id, person_id, cluster_id, embedding, crop, "
                "quality) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.seen, r.camera, r.event_id, r.track_id, r.person_id, r.cluster_id, self.gallery._vec(r.embedding),
                  r.crop if len(r.crop) <= MAX_CROP_BYTES else b"", float(r.quality)) for r in kept])
        return len(kept)

    def prune(self, before: float, keep: int) -> int:
        """Delete sightings older than `before`, then the oldest beyond `keep`; returns how many went."""
        with self.gallery._write(matrix=False) as c:  # the match matrix stays
            old = c.execute("SELECT COUNT(*) FROM sightings WHERE seen < ?", (before,)).fetchone()[0]
            c.execute("DELETE FROM sightings WHERE seen < ?", (before,))
            total = c.execute("SELECT COUNT(*) FROM sightings").fetchone()[0]
            extra = max(0, int(total) - keep)
            if extra:
                c.execute("DELETE FROM sightings WHERE id IN (SELECT id FROM sightings ORDER BY seen, id LIMIT ?)",
                          (extra,))
        if old or extra:
            reclaim(self._conn)
        return int(old) + extra

    def forget(self, who: Who) -> dict[str, int]:
        """Delete one identity everywhere in the gallery, in one transaction: its sightings (crops and embeddings
        with them), and the person (samples, feedback, file records) or the stranger cluster (its kept faces).
        NotFound when there is no such person or cluster."""
        with self.gallery._write() as c:
            if who.cluster is not None:
                if not c.execute("SELECT 1 FROM clusters WHERE id = ?", (who.cluster,)).fetchone():
                    raise NotFound(f"no stranger cluster {who.cluster}")
                where, key = "cluster_id = ?", who.cluster
                faces = c.execute("SELECT COUNT(*) FROM strangers WHERE cluster_id = ?", (key,)).fetchone()[0]
            else:
                row = c.execute("SELECT id FROM people WHERE name = ?", (who.name,)).fetchone()
                if row is None:
                    raise NotFound(f"no person named {who.name!r} in the gallery")
                where, key = "person_id = ?", int(row[0])
                faces = c.execute("SELECT COUNT(*) FROM samples WHERE person_id = ?", (key,)).fetchone()[0]
            seen = c.execute(f"SELECT COUNT(*) FROM sightings WHERE {where}", (key,)).fetchone()[0]
            # every process's search cache reloads, so the embeddings leave their memory too
            c.execute("INSERT INTO meta(key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE SET value = "
                      "CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)", (FORGETS,))
            c.execute(f"DELETE FROM sightings WHERE {where}", (key,))
            if who.cluster is not None:
                c.execute("DELETE FROM clusters WHERE id = ?", (key,))  # cascades to its stranger faces
            else:
                c.execute("DELETE FROM people WHERE id = ?", (key,))  # cascades to samples and feedback
                c.execute("DELETE FROM files WHERE name = ?", (who.name,))
        reclaim(self._conn)  # SQLite: the freed pages leave the file, the WAL is truncated
        return {"sightings": int(seen), "faces": int(faces)}

    # --- reading ------------------------------------------------------------------------------------------------
    def rows(self, since: float | None = None, who: Who | None = None) -> list[SightingRow]:
        """Sightings (no embeddings), oldest first."""
        where, args = ["s.seen >= ?"], [since if since is not None else float("-inf")]
        if who is not None and who.cluster is not None:
            where.append("s.cluster_id = ?")
            args.append(who.cluster)
        elif who is not None:
            where.append("p.name = ?")
            args.append(who.name)
        sql = (f"SELECT {_COLUMNS} FROM sightings s LEFT JOIN people p ON p.id = s.person_id "
               f"WHERE {' AND '.join(where)} ORDER BY s.seen, s.id")
        return [_row(r) for r in self._conn.execute(sql, tuple(args)).fetchall()]

    def by_ids(self, ids: Iterable[int]) -> dict[int, SightingRow]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        sql = (f"SELECT {_COLUMNS} FROM sightings s LEFT JOIN people p ON p.id = s.person_id "
               f"WHERE s.id IN ({marks})")
        return {r.id: r for r in (_row(x) for x in self._conn.execute(sql, tuple(ids)).fetchall())}

    def crop(self, sighting_id: int) -> bytes:
        row = self._conn.execute("SELECT crop FROM sightings WHERE id = ?", (int(sighting_id),)).fetchone()
        if row is None or not row[0]:
            raise NotFound(f"no face crop for sighting {sighting_id}")
        return bytes(row[0])

    def count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM sightings").fetchone()[0])

    def matrix(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids (n,) ascending, embeddings (n, 128), their squared lengths (n,)) of every sighting, cached: rows
        added since are appended; a prune (the lowest id moved) or a forget (in any process) reads everything
        again. Rows deleted with a person or cluster may linger until then: callers read hits back by id
        (`by_ids`), which drops them."""
        with self._lock:
            low, top, forgets = (int(v or 0) for v in self._conn.execute(  # lookups at the key's ends, not a scan
                "SELECT (SELECT MIN(id) FROM sightings), (SELECT MAX(id) FROM sightings), "
                f"(SELECT value FROM meta WHERE key = '{FORGETS}')").fetchone())
            cache = self._cache
            if cache is not None and (cache[0], cache[1], cache[5]) == (low, top, forgets):
                return cache[2:5]
            if cache is not None and (cache[0], cache[5]) == (low, forgets) and top > cache[1]:
                ids, vectors = self._read_vectors(cache[1])
                ids, vectors = np.concatenate([cache[2], ids]), np.concatenate([cache[3], vectors])
            else:
                ids, vectors = self._read_vectors(0)
            self._cache = (low, top, ids, vectors, squared_norms(vectors), forgets)
            return self._cache[2:5]

    def _read_vectors(self, after: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self._conn.execute("SELECT id, embedding FROM sightings WHERE id > ? ORDER BY id", (after,)).fetchall()
        vectors = to_vectors([r[1] for r in rows]) if rows else np.zeros((0, EMBED_DIM), np.float32)
        return np.array([r[0] for r in rows], np.int64), vectors


def squared_norms(vectors: np.ndarray) -> np.ndarray:
    """Each row's squared length (matrix search: |q - v|² = |q|² + |v|² - 2 q·v)."""
    return np.einsum("ij,ij->i", vectors, vectors)


def _existing(c: object, table: str, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    marks = ", ".join("?" * len(ids))
    return {int(r[0]) for r in c.execute(f"SELECT id FROM {table} WHERE id IN ({marks})", tuple(ids)).fetchall()}


def _row(r: Sequence) -> SightingRow:
    return SightingRow(int(r[0]), float(r[1]), str(r[2]), None if r[3] is None else int(r[3]),
                       None if r[4] is None else int(r[4]), r[5], None if r[6] is None else int(r[6]), float(r[7]))
