"""Enrolment: source images → one aligned face each → gallery samples, one transaction per file.

A file already recorded for the person (same sha256) is skipped, so an interrupted run resumes where it
stopped; a file that gave no face then still gives none. A face that matches someone else is refused unless forced
(`EnrollReport.conflict()` is the typed error a front end raises). Each image should show the person alone; when it
shows several faces the largest usable one is taken, unless `box` says which (the web page lets the user pick).
`enroll_tree` reads the seed's dataset layout, DIR/<name>/*.jpg (sub-folders such as the seed's `no_faces` count for
their parent).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vigil.errors import BadInput, MatchesAnother, NotFound
from vigil.faces.gallery.gallery import Gallery, Sample
from vigil.faces.gallery.schema import person_name
from vigil.faces.matcher import person_distances
from vigil.faces.recognizer import FaceRecognizer, thumbnail
from vigil.imaging import images
from vigil.ops.nms import iou_matrix

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
Progress = Callable[[str, str], None]  # (source, outcome)


@dataclass
class EnrollReport:
    name: str
    added: list[str] = field(default_factory=list)  # sources that gave a sample
    skipped: list[str] = field(default_factory=list)  # already enrolled (same file hash, or the same face again)
    no_face: list[str] = field(default_factory=list)  # no usable face (none, too small, too blurry)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    matches: list[tuple[str, str]] = field(default_factory=list)  # (source, the other person its face matches)
    forced: bool = False  # the matching faces were enrolled anyway (else they were refused)
    absorbed: list[int] = field(default_factory=list)  # stranger clusters that became samples of this person

    @property
    def samples(self) -> int:
        return len(self.added)

    @property
    def refused(self) -> list[tuple[str, str]]:
        return [] if self.forced else self.matches

    def as_dict(self) -> dict:
        return {"name": self.name, "samples": self.samples, "added": self.added, "skipped": self.skipped,
                "no_face": self.no_face, "unreadable": [{"source": s, "error": e} for s, e in self.unreadable],
                "matches": [{"source": s, "matches": m} for s, m in self.matches], "forced": self.forced,
                "absorbed": self.absorbed}

    def conflict(self) -> MatchesAnother | None:
        """The typed refusal for the first face that matched another person (None when nothing was refused)."""
        if not self.refused:
            return None
        source, other = self.refused[0]
        enrolled = f"; {len(self.added)} other photo(s) were enrolled" if self.added else ""
        return MatchesAnother(f"{source}: this face already matches {other}; not enrolled as {self.name} "
                              f"(enrol it anyway with force){enrolled}", other)


@dataclass(frozen=True)
class Upload:
    """Image bytes with the file name their sender gave them (an HTTP upload's): the report and its messages name
    the file by it."""
    data: bytes
    filename: str | None = None


Source = bytes | Path | Upload
MAX_LABEL = 120  # characters of an upload's file name kept for the report


def _label(source: Source, index: int) -> str:
    """How a source is named in the report: its path, its upload's file name (the last path part, printable
    characters only), or its position for raw bytes."""
    if isinstance(source, Path):
        return str(source)
    name = source.filename if isinstance(source, Upload) else None
    name = "".join(ch for ch in re.split(r"[/\\]", name or "")[-1] if ch.isprintable()).strip()[:MAX_LABEL]
    return name or f"<bytes #{index}>"


def _read(source: Source, limits: images.ImageLimits) -> bytes:
    if isinstance(source, Upload):
        return source.data
    return source if isinstance(source, bytes) else images.read_bytes(source, limits)


def enroll(recognizer: FaceRecognizer, name: str, sources: Sequence[Source],
           progress: Progress | None = None, box: Sequence[float] | None = None, force: bool = False) -> EnrollReport:
    """Images are read under the recogniser's [limits] (size, pixels, formats), like every other input. `box` (xyxy,
    image pixels): take the usable face overlapping it most instead of the largest one. A face that already matches
    another person (within [faces] match_distance, nearer than this person's own samples) is refused unless `force`;
    the same file, or a face nearly identical to one of this person's samples, is one sample, not two. Each new
    sample absorbs the stranger clusters it matches."""
    if recognizer.gallery is None:
        raise NotFound("enrolment needs a gallery")
    name = person_name(name)
    report = EnrollReport(name, forced=force)
    for index, source in enumerate(sources):
        label = _label(source, index)  # named before reading, so an unreadable file is reported under its own name
        try:
            outcome = _enroll_file(recognizer, report, _read(source, recognizer.limits), label, box)
        except BadInput as exc:
            report.unreadable.append((label, str(exc)))
            outcome = "unreadable"  # the reason is in the report
        if progress:
            progress(label, outcome)
    return report


def _enroll_file(recognizer: FaceRecognizer, report: EnrollReport, data: bytes, label: str,
                 box: Sequence[float] | None) -> str:
    gallery, name = recognizer.gallery, report.name
    digest = hashlib.sha256(data).hexdigest()
    recorded = gallery.file_faces(name, digest)
    if recorded is not None:  # this file was enrolled before: its outcome stands (no face stays no face)
        (report.skipped if recorded else report.no_face).append(label)
        return "skipped" if recorded else "no usable face"
    frame = images.decode(data, recognizer.limits)
    sample = _best_sample(recognizer, frame.pixels, label, box)
    if sample is None:
        gallery.add_file(name, digest, [], label)
        report.no_face.append(label)
        return "no usable face"
    nearest, own = _nearest(gallery, name, sample.embedding, recognizer.config.match_distance)
    if nearest:
        report.matches.append((label, nearest))
        if not report.forced:
            return f"matches {nearest}"
    if own <= recognizer.config.same_face_distance:  # the same face again (a re-encoded or resized copy): one sample
        gallery.add_file(name, digest, [], label, faces=1)
        report.skipped.append(label)
        return "skipped"
    gallery.add_file(name, digest, [sample], label)
    report.added.append(label)
    for cluster in gallery.clusters_near(sample.embedding, recognizer.config.match_distance):
        gallery.name_cluster(cluster, name)
        report.absorbed.append(cluster)
    return "added"


def _nearest(gallery: Gallery, name: str, embedding: np.ndarray, match_distance: float) -> tuple[str, float]:
    """(another person this face matches, or "") and the face's distance to `name`'s own samples (inf: none)."""
    matrix = gallery.matrix()
    distances, ids = person_distances(np.asarray(embedding, np.float32).reshape(1, -1), matrix)
    own = float("inf")
    nearest, best = "", match_distance
    for pid, distance in zip(ids.tolist(), distances[0].tolist(), strict=True):
        person = matrix.names.get(pid, "")
        if person == name:
            own = distance
        elif distance <= best:
            nearest, best = person, distance
    return (nearest if best < own else ""), own


def _best_sample(recognizer: FaceRecognizer, rgb: np.ndarray, label: str,
                 box: Sequence[float] | None = None) -> Sample | None:
    faces = [f for f in recognizer.detect(rgb) if f.quality == "ok"]
    if box is not None and faces:
        overlap = iou_matrix(np.asarray(box, np.float32), np.array([f.xyxy for f in faces], np.float32))[0]
        faces = [faces[int(np.argmax(overlap))]] if overlap.max() > 0 else []
    if not faces:
        return None
    best = max(faces, key=lambda f: (f.xyxy[2] - f.xyxy[0]) * (f.xyxy[3] - f.xyxy[1]))
    vectors, chips = recognizer.embed(rgb, best.xyxy[None], recognizer.config.enroll_jitters)
    return Sample(vectors[0], thumbnail(chips[0]), label)


def dataset_tree(root: Path) -> dict[str, list[Path]]:
    """{name: image files} from DIR/<name>/**; raises BadInput when there is no person folder."""
    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder (expected DIR/<name>/*.jpg)")
    tree = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            tree[folder.name] = files
    if not tree:
        raise BadInput(f"{root}: no person folders with images (expected DIR/<name>/*.jpg)")
    return tree


def enroll_tree(recognizer: FaceRecognizer, root: Path, progress: Progress | None = None,
                force: bool = False) -> list[EnrollReport]:
    """Every person folder; a folder whose name breaks the name rule refuses the run before anything is enrolled."""
    tree = dataset_tree(root)
    for name in tree:
        person_name(name)
    return [enroll(recognizer, name, files, progress, force=force) for name, files in tree.items()]
