"""Visual Wake Words datasets from COCO: the rule of Chowdhery et al. (2019), exactly, for any COCO category.

An image is positive when at least one annotation of the class has COCO `area` (the segment's area, not its box) over
the image's width × height (from its `images` entry) strictly greater than the threshold (0.005 in the paper's
person set). Crowd annotations count; images without annotations are negative. Every image gets a row: none dropped,
none balanced away. No torch here: the `presence` commands build datasets without the train extra.
"""

from __future__ import annotations

import csv
import difflib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vigil.errors import BadInput
from vigil.registry.labels import NON_PERSON, PERSON

MANIFEST = "manifest.csv"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Row:
    file: str  # the image's name in the dataset (COCO file_name for COCO datasets)
    label: int  # 1: the class is present, 0: absent
    split: str


def folder_of(label: int) -> str:
    """The class folder the trainer reads (`DATASET/<label>/…`)."""
    return PERSON if label else NON_PERSON


def load_coco(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: not valid JSON: {exc}") from None
    missing = [key for key in ("images", "annotations", "categories") if not isinstance(doc, dict) or key not in doc]
    if missing:
        raise BadInput(f"{path}: not a COCO instances file (no {', '.join(missing)})")
    return doc


def category_ids(coco: dict, name: str) -> set[int]:
    names = {str(c.get("name")): int(c["id"]) for c in coco["categories"]}
    if name not in names:
        close = difflib.get_close_matches(name, list(names), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(names)[:20])}"
        raise BadInput(f"unknown class {name!r} in the COCO categories; {hint}")
    return {int(c["id"]) for c in coco["categories"] if c.get("name") == name}


def vww_labels(coco: dict, class_name: str, threshold: float) -> list[tuple[str, int]]:
    """(file_name, 1 or 0) for every image, in the file's order."""
    wanted = category_ids(coco, class_name)
    sizes: dict[int, float] = {}
    for image in coco["images"]:
        width, height = image.get("width") or 0, image.get("height") or 0
        if width <= 0 or height <= 0:
            raise BadInput(f"COCO image {image.get('id')} ({image.get('file_name')}): no width × height")
        sizes[int(image["id"])] = float(width) * float(height)
    positive: set[int] = set()
    for ann in coco["annotations"]:
        if int(ann.get("category_id", -1)) not in wanted:
            continue
        image_id = int(ann.get("image_id", -1))
        if image_id not in sizes or "area" not in ann:
            raise BadInput(f"COCO annotation {ann.get('id')}: no area or unknown image_id {image_id}")
        if float(ann["area"]) / sizes[image_id] > threshold:
            positive.add(image_id)
    return [(str(image["file_name"]), int(int(image["id"]) in positive)) for image in coco["images"]]


def split_from_name(path: Path) -> str:
    """COCO files say their split in the name (instances_val2014.json); anything else is training data."""
    for split in ("val", "test"):
        if split in path.stem.lower():
            return split
    return "train"


def place(source: Path, out: Path, name: str, label: int, copy: bool) -> None:
    """Put one image into the trainer's class folder, as a symbolic link (cheap) or a copy."""
    target = out / folder_of(label) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    if copy:
        shutil.copyfile(source, target)
    else:
        os.symlink(source.resolve(), target)


def write_manifest(out: Path, rows: Iterable[Row]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / MANIFEST
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "label", "split"])
        writer.writerows([r.file, r.label, r.split] for r in rows)
    return path


def coco_dataset(instances: Path, images: Path, out: Path, class_name: str = PERSON, threshold: float = 0.005,
                 split: str | None = None, copy: bool = False) -> list[Row]:
    """Label every COCO image by the VWW rule, place it in out/<person|non_person>/, write out/manifest.csv.
    Every listed image must exist: the first missing ones are named and nothing is written."""
    labels = vww_labels(load_coco(instances), class_name, threshold)
    missing = [name for name, _ in labels if not (images / name).is_file()]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise BadInput(f"{images}: missing {len(missing)} COCO image(s): {', '.join(missing[:5])}{more}")
    rows = [Row(name, label, split or split_from_name(instances)) for name, label in labels]
    for row in rows:
        place(images / row.file, out, row.file, row.label, copy)
    write_manifest(out, rows)
    return rows
