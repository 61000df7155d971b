"""`vigil faces dataset`: a face / non-face training set (DIR/face/*.png, DIR/nonface/*.png, grey as the gate scores
them; what `vigil train classify` reads) for the face gate, built from what the user has.

Positives: the gallery's aligned sample thumbnails, and the face candidates found in `--faces` images (cut by
`gate_crop`, exactly as the gate will see them). Negatives, the hard ones first: from the user's own camera frames,
the head region of person boxes in which no face was found, background patches that touch no person and no face, and
the detector's candidates that the size / focus checks rejected; plus whole `--nonfaces` images. `demo` writes
scikit-image's `lfw_subset` (100 faces, 100 non-faces, 25×25 grey). A file that cannot be read is reported by name and
skipped; it fails only itself."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vigil.errors import BadInput
from vigil.faces.enroll import IMAGE_SUFFIXES
from vigil.faces.gallery.gallery import Gallery
from vigil.faces.gate import as_grey, gate_crop
from vigil.faces.recognizer import FaceRecognizer
from vigil.imaging import images
from vigil.registry.labels import PERSON
from vigil.tasks.detect import DetectOptions, ObjectDetector

FACE, NONFACE = "face", "nonface"
MAX_SIDE = 160  # negatives are shrunk to this long side: the gate's input is small, the files stay small
PATCHES_PER_FRAME = 4
HEAD_SHARE = 0.6  # a head is about this share of a standing person's box width
MIN_HEAD = 16  # person boxes whose head region would be narrower than this give no negative


@dataclass
class DatasetReport:
    out: Path
    written: dict[str, dict[str, int]] = field(default_factory=dict)  # source → {label: files}
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def as_dict(self) -> dict:
        totals = {label: sum(c.get(label, 0) for c in self.written.values()) for label in (FACE, NONFACE)}
        return {"out": str(self.out), "written": self.written, "totals": totals,
                "unreadable": [{"source": s, "error": e} for s, e in self.unreadable]}


class DatasetWriter:
    """Writes PNGs under out/face and out/nonface with names that say where each came from."""

    def __init__(self, out: Path) -> None:
        self.report = DatasetReport(Path(out))
        for label in (FACE, NONFACE):
            (self.report.out / label).mkdir(parents=True, exist_ok=True)

    def write(self, source: str, label: str, rgb: np.ndarray, stem: str) -> None:
        """One example, in grey as the gate scores it (gate.as_grey)."""
        path = self.report.out / label / f"{source}_{stem}.png"
        if not cv2.imwrite(str(path), as_grey(rgb)[:, :, 0]):
            raise BadInput(f"{path}: could not be written")
        counts = self.report.written.setdefault(source, {FACE: 0, NONFACE: 0})
        counts[label] += 1


def _shrink(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = MAX_SIDE / max(h, w)
    return rgb if scale >= 1 else cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                                             interpolation=cv2.INTER_AREA)


def _image_files(folder: Path) -> list[Path]:
    if not Path(folder).is_dir():
        raise BadInput(f"{folder}: not a folder of images")
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _frames(writer: DatasetWriter, folder: Path) -> Iterator[tuple[Path, np.ndarray]]:
    """Each readable image of the folder (RGB); an unreadable one is reported and skipped."""
    for path in _image_files(folder):
        try:
            yield path, images.load(path).pixels
        except BadInput as exc:
            writer.report.unreadable.append((str(path), str(exc)))


def demo(writer: DatasetWriter) -> None:
    """scikit-image's lfw_subset: the first 100 are faces, the next 100 are not."""
    import skimage.data

    for i, patch in enumerate(skimage.data.lfw_subset()):
        grey = np.clip(patch * 255, 0, 255).astype(np.uint8)
        writer.write("lfw", FACE if i < 100 else NONFACE, grey, f"{i:03d}")


def from_gallery(writer: DatasetWriter, gallery: Gallery) -> None:
    """Every enrolled sample's aligned thumbnail, as a face."""
    for person in gallery.people():
        for sample_id, _, _ in gallery.samples(person.name):
            data = gallery.thumbnail(sample_id)
            if data:
                writer.write("gallery", FACE, images.decode(data).pixels, f"{sample_id}")


def from_faces(writer: DatasetWriter, recognizer: FaceRecognizer, folder: Path) -> None:
    """Face candidates that pass the size and focus checks in images the user says show faces."""
    for path, rgb in _frames(writer, folder):
        for k, face in enumerate(f for f in recognizer.detect(rgb) if f.quality == "ok"):
            crop = gate_crop(rgb, face.xyxy)
            if crop is not None:
                writer.write("faces", FACE, crop, f"{path.stem}_{k}")


def from_nonfaces(writer: DatasetWriter, folder: Path) -> None:
    for path, rgb in _frames(writer, folder):
        writer.write("nonfaces", NONFACE, _shrink(rgb), path.stem)


def from_frames(writer: DatasetWriter, recognizer: FaceRecognizer, persons: ObjectDetector, folder: Path,
                seed: int = 0) -> None:
    """Hard negatives from camera frames: faceless heads, background patches, rejected candidates."""
    rng = np.random.default_rng(seed)
    for path, rgb in _frames(writer, folder):
        faces = recognizer.detect(rgb)
        for k, face in enumerate(f for f in faces if f.quality != "ok"):
            crop = gate_crop(rgb, face.xyxy)
            if crop is not None:
                writer.write("rejected", NONFACE, crop, f"{path.stem}_{k}")
        found = persons(rgb, DetectOptions(min_score=0.4))
        is_person = np.array([persons.labels[int(c)] == PERSON for c in found.class_id], bool)
        boxes = found.xyxy[is_person] if len(found) else np.zeros((0, 4), np.float32)
        face_boxes = np.array([f.xyxy for f in faces], np.float32).reshape(-1, 4)
        for k, head in enumerate(_faceless_heads(boxes, face_boxes)):
            crop = gate_crop(rgb, head)
            if crop is not None:
                writer.write("heads", NONFACE, crop, f"{path.stem}_{k}")
        for k, patch in enumerate(_background(rgb.shape[1], rgb.shape[0], np.concatenate([boxes, face_boxes]), rng)):
            writer.write("background", NONFACE, gate_crop(rgb, patch), f"{path.stem}_{k}")


def _faceless_heads(persons: np.ndarray, faces: np.ndarray) -> list[np.ndarray]:
    """The head square at the top of each person box that holds no face candidate's centre."""
    centres = (faces[:, :2] + faces[:, 2:]) / 2
    heads = []
    for x0, y0, x1, y1 in persons:
        inside = ((centres[:, 0] >= x0) & (centres[:, 0] <= x1) & (centres[:, 1] >= y0) & (centres[:, 1] <= y1))
        side = (x1 - x0) * HEAD_SHARE
        if inside.any() or side < MIN_HEAD:
            continue
        cx = (x0 + x1) / 2
        heads.append(np.array([cx - side / 2, y0, cx + side / 2, y0 + side], np.float32))
    return heads


def _background(width: int, height: int, avoid: np.ndarray, rng: np.random.Generator,
                tries: int = 50) -> list[np.ndarray]:
    """Up to PATCHES_PER_FRAME random squares (24-96 px) touching no box in `avoid`."""
    patches = []
    for _ in range(tries):
        side = int(rng.integers(24, 97))
        if side >= min(width, height) or len(patches) == PATCHES_PER_FRAME:
            break
        x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
        box = np.array([x, y, x + side, y + side], np.float32)
        apart = ((box[2] <= avoid[:, 0]) | (box[0] >= avoid[:, 2]) | (box[3] <= avoid[:, 1]) | (box[1] >= avoid[:, 3]))
        if apart.all():
            patches.append(box)
    return patches
