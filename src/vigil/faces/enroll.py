"""Enrolment: source images → one aligned face each → gallery samples, one transaction per file.

A file already recorded for the person (same sha256) is skipped, so an interrupted run resumes where it
stopped. Each image should show the person alone; when it shows several faces the largest usable one is
taken, unless `box` says which (the web page lets the user pick). `enroll_tree` reads the seed's dataset
layout, DIR/<name>/*.jpg (sub-folders such as the seed's `no_faces` count for their parent).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vigil.errors import BadInput, NotFound
from vigil.faces.gallery.gallery import Sample
from vigil.faces.gallery.schema import person_name
from vigil.faces.recognizer import FaceRecognizer, thumbnail
from vigil.imaging import images
from vigil.ops.nms import iou_matrix

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
Progress = Callable[[str, str], None]  # (source, outcome)


@dataclass
class EnrollReport:
    name: str
    added: list[str] = field(default_factory=list)  # sources that gave a sample
    skipped: list[str] = field(default_factory=list)  # already enrolled (same file hash)
    no_face: list[str] = field(default_factory=list)  # no usable face (none, too small, too blurry)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)

    @property
    def samples(self) -> int:
        return len(self.added)

    def as_dict(self) -> dict:
        return {"name": self.name, "samples": self.samples, "added": self.added, "skipped": self.skipped,
                "no_face": self.no_face, "unreadable": [{"source": s, "error": e} for s, e in self.unreadable]}


def _label(source: bytes | Path, index: int) -> str:
    """How a source is named in the report: its path, or its position for raw bytes."""
    return f"<bytes #{index}>" if isinstance(source, bytes) else str(source)


def _read(source: bytes | Path, limits: images.ImageLimits) -> bytes:
    return source if isinstance(source, bytes) else images.read_bytes(source, limits)


def enroll(recognizer: FaceRecognizer, name: str, sources: list[bytes | Path],
           progress: Progress | None = None, box: Sequence[float] | None = None) -> EnrollReport:
    """Images are read under the recogniser's [limits] (size, pixels, formats), like every other input. `box` (xyxy,
    image pixels): take the usable face overlapping it most instead of the largest one."""
    gallery = recognizer.gallery
    if gallery is None:
        raise NotFound("enrolment needs a gallery")
    report = EnrollReport(name)
    for index, source in enumerate(sources):
        label = _label(source, index)  # named before reading, so an unreadable file is reported under its own name
        try:
            data = _read(source, recognizer.limits)
            digest = hashlib.sha256(data).hexdigest()
            if gallery.has_file(name, digest):
                report.skipped.append(label)
                outcome = "skipped"
            else:
                frame = images.decode(data, recognizer.limits)
                sample = _best_sample(recognizer, frame.pixels, label, box)
                gallery.add_file(name, digest, [sample] if sample else [], label)
                (report.added if sample else report.no_face).append(label)
                outcome = "added" if sample else "no usable face"
        except BadInput as exc:
            report.unreadable.append((label, str(exc)))
            outcome = f"unreadable: {exc}"
        if progress:
            progress(label, outcome)
    return report


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


def enroll_tree(recognizer: FaceRecognizer, root: Path, progress: Progress | None = None) -> list[EnrollReport]:
    """Every person folder; a folder whose name breaks the name rule refuses the run before anything is enrolled."""
    tree = dataset_tree(root)
    for name in tree:
        person_name(name)
    return [enroll(recognizer, name, files, progress) for name, files in tree.items()]
