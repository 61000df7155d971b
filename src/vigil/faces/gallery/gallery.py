"""The face gallery: one SQLite file in WAL mode.

Tables: people; samples (embedding, source file hash, aligned-face thumbnail, time); files (every source
file already processed for a person, with or without a usable face, so a re-run skips it by hash);
feedback ("this face is not NAME"); strangers (faces that matched nobody) grouped into provisional
clusters a user can name later.

Every enrolment of one file is one transaction that creates the person (if new), its samples and the file
record together, so a run killed at any point leaves committed files whole and never a person without
samples. Writers take the lock up front (BEGIN IMMEDIATE) and wait up to `busy_timeout`, so concurrent
enrolments queue instead of failing or losing samples. An existing file that is not a readable gallery is
refused with ModelIntegrityError and never overwritten or recreated.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vigil.db.sql_schema import plain_text
from vigil.db.sqlite_file import ThreadConnections, create_private, migrate_file, reclaim, write_transaction
from vigil.errors import BadInput, Conflict, ModelIntegrityError, NotFound
from vigil.faces.gallery.embedder import EmbedderRecord
from vigil.faces.gallery.schema import GALLERY_SCHEMA, person_name, to_blob, to_vectors
from vigil.faces.gallery.strangers import StrangerStore

BUSY_TIMEOUT_MS = 10_000  # well under [server] request_timeout_s: a held lock fails the write, not the request


@dataclass(frozen=True)
class PersonSummary:
    id: int
    name: str
    samples: int
    created: float


@dataclass(frozen=True)
class Sample:
    embedding: np.ndarray  # (128,) float32
    thumbnail: bytes = b""  # JPEG of the aligned face chip
    source: str = ""


@dataclass(frozen=True)
class GalleryMatrix:
    """All samples at once, for vectorised matching."""

    embeddings: np.ndarray  # (m, 128)
    person_ids: np.ndarray  # (m,)
    names: dict[int, str]
    negatives: np.ndarray  # (k, 128) feedback embeddings
    negative_ids: np.ndarray  # (k,) the person each one is NOT


class Gallery(StrangerStore, EmbedderRecord):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise BadInput(f"{self.path}: gallery path is not a file")
        existed = create_private(self.path)
        self._local = threading.local()  # the matrix cache, per thread as the connections are
        self._connections = ThreadConnections(self._connect)
        self._check(existed)

    # --- connections -------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._connections.get()

    def _check(self, existed: bool) -> None:
        try:
            migrate_file(self._conn, GALLERY_SCHEMA, self.path, existed, verify=True)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise ModelIntegrityError(
                f"{self.path}: the face gallery is unreadable ({exc}). It was left untouched: restore it from a "
                "backup, or move it away to start an empty gallery.") from None
        except ModelIntegrityError:
            self.close()
            raise

    def _write(self, matrix: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction; the lock is taken at BEGIN so concurrent writers queue, never deadlock.
        `matrix=False` says the write leaves people, samples and feedback alone (sightings): PostgreSQL's gallery
        then keeps its match matrix; SQLite's cache follows the database's own change counters either way."""
        return write_transaction(self._conn)

    def close(self) -> None:
        self._connections.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- people --------------------------------------------------------------------------------------
    def people(self) -> list[PersonSummary]:
        rows = self._conn.execute(
            "SELECT p.id, p.name, COUNT(s.id), p.created FROM people p LEFT JOIN samples s ON s.person_id = p.id "
            "GROUP BY p.id ORDER BY p.name").fetchall()
        return [PersonSummary(*r) for r in rows]

    def person_id(self, name: str) -> int:
        name = name.strip() if isinstance(name, str) else name
        plain_text(name)
        row = self._conn.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no person named {name!r} in the gallery")
        return int(row[0])

    def remove(self, name: str) -> int:
        """Delete a person with their samples, files and feedback; returns the number of samples removed."""
        with self._write() as c:
            pid = self.person_id(name)
            count = c.execute("SELECT COUNT(*) FROM samples WHERE person_id = ?", (pid,)).fetchone()[0]
            c.execute("DELETE FROM people WHERE id = ?", (pid,))
        reclaim(self._conn)
        return int(count)

    def rename(self, old: str, new: str) -> None:
        new = person_name(new)
        with self._write() as c:
            pid = self.person_id(old)
            if c.execute("SELECT 1 FROM people WHERE name = ?", (new,)).fetchone():
                raise Conflict(f"{new!r} is already in the gallery; remove or rename it first")
            c.execute("UPDATE people SET name = ? WHERE id = ?", (new, pid))

    def _ensure_person(self, c: sqlite3.Connection, name: str) -> int:
        """`name` already checked by `person_name` (at the public method it came through)."""
        c.execute("INSERT INTO people(name, created) VALUES (?, ?) ON CONFLICT DO NOTHING", (name, time.time()))
        return int(c.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()[0])

    # --- samples ---------------------------------------------------------------------------------------
    def has_file(self, name: str, file_hash: str) -> bool:
        return self.file_faces(name, file_hash) is not None

    def file_faces(self, name: str, file_hash: str) -> int | None:
        """How many faces this file gave when it was enrolled for `name` (0: none usable); None: never enrolled."""
        name = person_name(name)
        row = self._conn.execute("SELECT faces FROM files WHERE name = ? AND file_hash = ?",
                                 (name, file_hash)).fetchone()
        return None if row is None else int(row[0])

    def add_file(self, name: str, file_hash: str, samples: list[Sample], source: str = "",
                 faces: int | None = None) -> int:
        """Record one processed source file and its samples atomically. A file with no usable face is
        recorded too (so a re-run skips it) but creates no person; a face already kept (`faces` 1, no samples)
        is recorded without a second sample. Returns the number of samples added."""
        name = person_name(name)
        with self._write() as c:
            if c.execute("SELECT 1 FROM files WHERE name = ? AND file_hash = ?", (name, file_hash)).fetchone():
                return 0  # another enrolment got here first
            now = time.time()
            if samples:
                pid = self._ensure_person(c, name)
                c.executemany(
                    "INSERT INTO samples(person_id, embedding, file_hash, source, thumbnail, created) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(pid, self._vec(s.embedding), file_hash, s.source or source, s.thumbnail, now) for s in samples])
            c.execute("INSERT INTO files(name, file_hash, source, faces, created) VALUES (?, ?, ?, ?, ?)",
                      (name, file_hash, source, len(samples) if faces is None else faces, now))
        return len(samples)

    def add_samples(self, name: str, samples: list[Sample]) -> int:
        """Samples without a source file (e.g. a named stranger cluster)."""
        name = person_name(name)
        if not samples:
            return 0
        with self._write() as c:
            self._insert_samples(c, self._ensure_person(c, name), samples)
        return len(samples)

    def _insert_samples(self, c: sqlite3.Connection, pid: int, samples: list[Sample]) -> None:
        c.executemany("INSERT INTO samples(person_id, embedding, file_hash, source, thumbnail, created) "
                      "VALUES (?, ?, NULL, ?, ?, ?)",
                      [(pid, self._vec(s.embedding), s.source, s.thumbnail, time.time()) for s in samples])

    def samples(self, name: str) -> list[tuple[int, str, float]]:
        """(sample id, source, time) of one person's samples."""
        pid = self.person_id(name)
        return [tuple(r) for r in self._conn.execute(
            "SELECT id, source, created FROM samples WHERE person_id = ? ORDER BY id", (pid,))]

    def thumbnail(self, sample_id: int) -> bytes:
        row = self._conn.execute("SELECT thumbnail FROM samples WHERE id = ?", (sample_id,)).fetchone()
        if row is None:
            raise NotFound(f"no sample {sample_id}")
        return bytes(row[0] or b"")

    def delete_sample(self, sample_id: int) -> str:
        """Remove one sample (the person stays, even with none left); returns the person's name."""
        with self._write() as c:
            row = c.execute("SELECT p.name FROM samples s JOIN people p ON p.id = s.person_id WHERE s.id = ?",
                            (sample_id,)).fetchone()
            if row is None:
                raise NotFound(f"no sample {sample_id}")
            c.execute("DELETE FROM samples WHERE id = ?", (sample_id,))
        return str(row[0])

    # --- feedback --------------------------------------------------------------------------------------
    def add_negative(self, name: str, embedding: np.ndarray, note: str = "") -> None:
        """Record that this face is NOT `name`; matching will not give `name` to faces closer to it."""
        with self._write() as c:
            pid = self.person_id(name)
            c.execute("INSERT INTO feedback(person_id, embedding, note, created) VALUES (?, ?, ?, ?)",
                      (pid, self._vec(embedding), note, time.time()))

    def reject_sample(self, sample_id: int, note: str = "") -> str:
        """A gallery sample that is not its person: move it to that person's negatives. Returns the name."""
        with self._write() as c:
            row = c.execute("SELECT s.person_id, s.embedding, p.name FROM samples s JOIN people p "
                            "ON p.id = s.person_id WHERE s.id = ?", (sample_id,)).fetchone()
            if row is None:
                raise NotFound(f"no sample {sample_id}")
            c.execute("INSERT INTO feedback(person_id, embedding, note, created) VALUES (?, ?, ?, ?)",
                      (row[0], row[1], note or f"sample {sample_id}", time.time()))
            c.execute("DELETE FROM samples WHERE id = ?", (sample_id,))
        return str(row[2])

    # --- matching --------------------------------------------------------------------------------------
    def matrix(self) -> GalleryMatrix:
        """Every sample and negative, cached until any connection (this process or another) commits."""
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        stamp = (version, self._conn.total_changes)  # both per connection, hence the per-thread cache
        cached = getattr(self._local, "matrix", None)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        matrix = self._read_matrix()
        self._local.matrix = (stamp, matrix)
        return matrix

    def _read_matrix(self) -> GalleryMatrix:
        rows = self._conn.execute("SELECT person_id, embedding FROM samples ORDER BY id").fetchall()
        negs = self._conn.execute("SELECT person_id, embedding FROM feedback ORDER BY id").fetchall()
        names = dict(self._conn.execute("SELECT id, name FROM people").fetchall())
        return GalleryMatrix(to_vectors([r[1] for r in rows]), np.array([r[0] for r in rows], np.int64), names,
                             to_vectors([r[1] for r in negs]), np.array([r[0] for r in negs], np.int64))

    def _vec(self, vector: np.ndarray) -> bytes | list[float]:
        """An embedding as this database stores it (SQLite: 512 bytes)."""
        return to_blob(vector)

