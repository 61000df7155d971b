"""A small real dataset for the training tests: people vs background, cut from the vendored camera frames.

`person/`: the hand-counted people of vtest_*.jpg (tests/fixtures/vtest_people.json), each cut three times with a
little jitter, as a detector's boxes would vary. `background/`: boxes of the same sizes at random places of the
same frames that touch no person, plus crops of horses, giraffe and eagle. Built once per test session, and the
trained run is shared by the training, export, eval and serving tests (see `trained_run`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import FIXTURES, fixture_image

CROPS_PER_PERSON = 3
_cache: dict[str, object] = {}


def _people() -> dict[str, list[list[float]]]:
    frames = json.loads((FIXTURES / "vtest_people.json").read_text())["frames"]
    return {name: entry["boxes"] for name, entry in frames.items()}


def _jitter(box: list[float], rng: np.random.Generator, w: int, h: int, amount: float = 0.08) -> tuple[int, ...]:
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    dx, dy, grow = rng.uniform(-amount, amount, 2), rng.uniform(-amount, amount, 2), rng.uniform(0.0, 0.15)
    x0, x1 = x0 + dx[0] * bw - grow * bw, x1 + dx[1] * bw + grow * bw
    y0, y1 = y0 + dy[0] * bh - grow * bh / 2, y1 + dy[1] * bh + grow * bh / 2
    return int(max(0, x0)), int(max(0, y0)), int(min(w, x1)), int(min(h, y1))


def _overlaps(box: tuple[int, ...], others: list[list[float]]) -> bool:
    return any(box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3] for o in others)


def _background_box(rng: np.random.Generator, w: int, h: int, people: list[list[float]]) -> tuple[int, ...]:
    for _ in range(200):
        bw, bh = int(rng.uniform(30, 90)), 0
        bh = int(bw * rng.uniform(1.6, 2.6))
        x0, y0 = int(rng.uniform(0, w - bw)), int(rng.uniform(0, h - bh))
        box = (x0, y0, x0 + bw, y0 + bh)
        if not _overlaps(box, people):
            return box
    raise RuntimeError("no free background box")


def build(root: Path, seed: int = 0) -> Path:
    """Write DATASET/person/*.jpg and DATASET/background/*.jpg (plus a no_faces sub-folder, which counts for its
    parent as in the seed); returns the dataset root."""
    rng = np.random.default_rng(seed)
    (root / "person").mkdir(parents=True, exist_ok=True)
    (root / "background" / "no_faces").mkdir(parents=True, exist_ok=True)
    count = 0
    for frame, boxes in sorted(_people().items()):
        image = Image.open(fixture_image(frame)).convert("RGB")
        for i, box in enumerate(boxes):
            for j in range(CROPS_PER_PERSON):
                image.crop(_jitter(box, rng, *image.size)).save(root / "person" / f"{Path(frame).stem}_{i}_{j}.jpg")
                bg = _background_box(rng, *image.size, boxes)
                image.crop(bg).save(root / "background" / f"{Path(frame).stem}_{i}_{j}.jpg")
                count += 1
    for name in ("horses.jpg", "giraffe.jpg", "eagle.jpg"):
        image = Image.open(fixture_image(name)).convert("RGB")
        for k in range(4):
            side = int(min(image.size) * rng.uniform(0.3, 0.6))
            x0, y0 = int(rng.uniform(0, image.size[0] - side)), int(rng.uniform(0, image.size[1] - side))
            image.crop((x0, y0, x0 + side // 2, y0 + side)).save(root / "background" / "no_faces" / f"{name}_{k}.jpg")
    return root


def dataset(tmp_root: Path) -> Path:
    if "dataset" not in _cache:
        _cache["dataset"] = build(tmp_root / "dataset")
    return _cache["dataset"]  # type: ignore[return-value]


TRAIN_SIZE = 64  # tiny input: the whole recipe in seconds on two cores


def trained_run(tmp_root: Path) -> Path:
    """One efficientnet_lite0 run (ImageNet weights from the store) on the dataset, trained once per session."""
    if "run" not in _cache:
        from vigil.export.run import export_fp32
        from vigil.registry.store import ModelStore
        from vigil.train.classify import train_classifier
        from vigil.train.run import TrainConfig

        config = TrainConfig(dataset=str(dataset(tmp_root)), size=TRAIN_SIZE, epochs=60, fine_tune_epochs=2,
                             name="person.test")
        train_classifier(config, tmp_root / "run", ModelStore())
        export_fp32(tmp_root / "run")
        _cache["run"] = tmp_root / "run"
    return _cache["run"]  # type: ignore[return-value]


def exported_run(tmp_root: Path) -> tuple[Path, dict]:
    """The trained run exported to every form this machine can make (LiteRT needs the edge extra)."""
    if "export" not in _cache:
        from vigil.export.run import export_run

        run = trained_run(tmp_root)
        forms = ["onnx-int8", "litert-int8", "c-array", "edgetpu"] if edge_installed() else ["onnx-int8"]
        _cache["export"] = export_run(run, forms)
    return trained_run(tmp_root), _cache["export"]  # type: ignore[return-value]


def edge_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("litert_torch") is not None


def require_edge() -> None:
    """LiteRT export needs the edge extra, which `make test` installs; CI must never skip it."""
    import os

    import pytest

    if not edge_installed():
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the LiteRT tests: install the edge extra (make test does)")
        pytest.skip("litert-torch is not installed here: make install EXTRAS=dev,train,edge")
