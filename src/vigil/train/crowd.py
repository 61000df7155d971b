"""`vigil train crowd`: a density regressor from point annotations to a servable ONNX (fp32 and int8) + manifests.

The run folder holds config.json, checkpoint.pt (resumed from when present, as the classifier trainer does),
model.onnx, model.int8.onnx, metrics.json (MAE and MSE as the crowd counting literature reports them: MSE is
the root of the mean squared count error) and manifests/ for `vigil models add`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from vigil.errors import BadInput, VigilError
from vigil.imaging import images
from vigil.ops.density import density_map, sum_pool
from vigil.registry.quantize import quantize_onnx
from vigil.registry.specs import InputSpec, ModelFile, ModelSpec, PathSource
from vigil.registry.store import ModelStore, sha256_of
from vigil.runtimes.onnx import default_threads
from vigil.runtimes.session import open_session
from vigil.train import density
from vigil.train.crowd_data import Annotated, load_dataset
from vigil.train.seeding import seeded

log = logging.getLogger(__name__)
BACKBONE = "mobilenet_v2.imagenet"


@dataclass
class CrowdTrainConfig:
    dataset: str
    val_dataset: str | None = None  # held-out folder; None: a seeded fraction of the dataset
    arch: str = "mobilenet_v2"
    name: str = ""
    width: int = 512  # training input (multiples of 16); images are resized to it, points scaled with them
    height: int = 384
    epochs: int = 40
    batch: int = 8
    lr: float = 5e-4
    sigma: float | None = None  # fixed Gaussian sigma in input pixels; None: geometry-adaptive (k = 3)
    val_fraction: float = 0.2
    seed: int = 0
    threads: int = 0
    pretrained: bool = True
    init_weights: str | None = None  # a state dict of ours, or published CSRNet weights (names mapped)
    int8: bool = True
    freeze_backbone: bool = False  # train only the back end on cached backbone features (fast; CI and small sets)
    synthetic: bool = field(default=False)  # recorded in the manifest: never a shipped default


@dataclass
class Samples:
    pixels: np.ndarray  # (n, 3, h, w) float32 0-255
    targets: np.ndarray  # (n, 1, h/8, w/8) float32, scaled by TARGET_SCALE
    counts: np.ndarray  # (n,) exact counts


def prepare(items: list[Annotated], width: int, height: int, sigma: float | None, desc: str) -> Samples:
    """Images resized to (width, height), points scaled alike, density targets sum-pooled to 1/8."""
    pixels, targets, counts = [], [], []
    for item in tqdm(items, desc=desc, unit="img", leave=False):
        try:
            frame = images.load(item.image)
        except VigilError as exc:
            raise BadInput(f"{item.image}: {exc}") from None
        sx, sy = width / frame.width, height / frame.height
        resized = _resize(frame.pixels, width, height)
        points = item.points * np.array([sx, sy])
        dense = density_map(points, height, width, sigma)
        pixels.append(resized.transpose(2, 0, 1).astype(np.float32))
        targets.append(sum_pool(dense, density.STRIDE)[None] * density.TARGET_SCALE)
        counts.append(float(dense.sum()))
    return Samples(np.stack(pixels), np.stack(targets).astype(np.float32), np.asarray(counts, np.float32))


def _resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)


def _split(items: list[Annotated], cfg: CrowdTrainConfig) -> tuple[list[Annotated], list[Annotated]]:
    if cfg.val_dataset:
        return items, load_dataset(Path(cfg.val_dataset))
    order = np.random.default_rng(cfg.seed).permutation(len(items))
    n_val = max(1, round(cfg.val_fraction * len(items)))
    if len(items) < 2:
        raise BadInput(f"{cfg.dataset}: at least two annotated images are needed (one for validation)")
    return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]]


def initial_model(cfg: CrowdTrainConfig, store: ModelStore) -> tuple[torch.nn.Module, str]:
    model = density.build(cfg.arch)
    if cfg.init_weights:
        state = torch.load(_weights_file(cfg.init_weights, store), map_location="cpu", weights_only=True)
        mapped = state if any(k.startswith(("encoder.", "backbone.")) for k in state) else density.map_published(state)
        model.load_state_dict(mapped)
        return model, cfg.init_weights
    if cfg.pretrained and cfg.arch == "mobilenet_v2":
        store.pull(BACKBONE)
        state = torch.load(store.path(BACKBONE, "weights"), map_location="cpu", weights_only=True)
        model.load_backbone(state)
        return model, BACKBONE
    return model, "random init"


def _weights_file(name_or_path: str, store: ModelStore) -> Path:
    """A state dict on disk, or a store model (e.g. published weights added with a URL-source manifest)."""
    if Path(name_or_path).is_file():
        return Path(name_or_path)
    store.pull(name_or_path)
    spec = store.spec(name_or_path)
    return store.path(name_or_path, "weights" if "weights" in spec.files else next(iter(spec.files)))


def count_errors(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """MAE and the literature's "MSE" (the root mean squared count error)."""
    diff = np.asarray(predicted, np.float64) - np.asarray(truth, np.float64)
    return {"mae": float(np.abs(diff).mean()), "mse": float(np.sqrt((diff ** 2).mean()))}


def network_inputs(model: torch.nn.Module, pixels: np.ndarray, frozen: bool, desc: str) -> torch.Tensor:
    """Normalised pixels, or (frozen backbone) the backbone's features, computed once."""
    mean, std = torch.tensor(density.MEAN).view(1, 3, 1, 1), torch.tensor(density.STD).view(1, 3, 1, 1)
    x = (torch.from_numpy(pixels) - mean) / std
    if not frozen:
        return x
    model.eval()
    with torch.no_grad():
        return torch.cat([model.encode(x[i:i + 16]) for i in tqdm(range(0, len(x), 16), desc=desc, leave=False)])


def _counts(step: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor, batch: int = 16) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([(F.relu(step(inputs[i:i + batch])).sum(dim=(1, 2, 3)) / density.TARGET_SCALE).numpy()
                               for i in range(0, len(inputs), batch)])


def _epoch(step: Callable[[torch.Tensor], torch.Tensor], optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
           targets: np.ndarray, batch: int, rng: np.random.Generator, bar: tqdm) -> float:
    total, order = 0.0, rng.permutation(len(inputs))
    for i in range(0, len(order), batch):
        idx = order[i:i + batch]
        x, y = inputs[idx], torch.from_numpy(targets[idx])
        if rng.integers(2):  # horizontal flip: the count and the map mirror with the image
            x, y = x.flip(3), y.flip(3)
        loss = F.mse_loss(step(x), y, reduction="sum") / len(idx)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(idx)
        bar.update(len(idx))
    return total / max(len(order), 1)


def train_density(cfg: CrowdTrainConfig, out: Path, store: ModelStore | None = None) -> dict:
    """Train (or resume), keep the weights with the best validation MAE, export, evaluate the exported forms."""
    if cfg.width % density.SIDE_MULTIPLE or cfg.height % density.SIDE_MULTIPLE:
        raise BadInput(f"training size {cfg.width}x{cfg.height}: sides must be multiples of {density.SIDE_MULTIPLE}")
    cfg.threads = cfg.threads or default_threads()  # recorded in config.json: part of a reproducible run
    with seeded(cfg.seed, cfg.threads):
        return _train_density(cfg, out, store)


def _train_density(cfg: CrowdTrainConfig, out: Path, store: ModelStore | None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    cfg.name = cfg.name or f"crowd.{out.resolve().name}"
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    train_items, val_items = _split(load_dataset(Path(cfg.dataset)), cfg)
    train = prepare(train_items, cfg.width, cfg.height, cfg.sigma, "targets train")
    val = prepare(val_items, cfg.width, cfg.height, cfg.sigma, "targets val")
    model, origin = initial_model(cfg, store or ModelStore())
    frozen = cfg.freeze_backbone
    step = model.decode if frozen else model
    params = [*model.decoder.parameters(), *model.head.parameters()] if frozen else list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=cfg.lr)
    state = _resume(out, model, optimizer)
    x_train = network_inputs(model, train.pixels, frozen, "features train")
    x_val = network_inputs(model, val.pixels, frozen, "features val")
    with tqdm(total=(cfg.epochs - state["epoch"]) * len(train.pixels), desc="train crowd", unit="img") as bar:
        for epoch in range(state["epoch"], cfg.epochs):
            model.train(not frozen)
            rng = np.random.default_rng([cfg.seed, epoch])  # resumable: epoch k draws the same either way
            loss = _epoch(step, optimizer, x_train, train.targets, cfg.batch, rng, bar)
            model.eval()
            errors = count_errors(_counts(step, x_val), val.counts)
            if errors["mae"] < state["best_mae"]:
                state["best_mae"], state["best"] = errors["mae"], {k: v.clone() for k, v in model.state_dict().items()}
            state["epoch"] = epoch + 1
            bar.set_postfix(loss=f"{loss:.2f}", val_mae=f"{errors['mae']:.2f}")
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), **state},
                       out / "checkpoint.pt")
    if state["best"] is not None:
        model.load_state_dict(state["best"])
    return _finish(cfg, out, model, train, val, origin)


def _resume(out: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    path = out / "checkpoint.pt"
    if not path.is_file():
        return {"epoch": 0, "best_mae": float("inf"), "best": None}
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    log.info("resuming %s at epoch %d", out, saved["epoch"])
    return {"epoch": saved["epoch"], "best_mae": saved["best_mae"], "best": saved["best"]}


def _finish(cfg: CrowdTrainConfig, out: Path, model: torch.nn.Module, train: Samples, val: Samples,
            origin: str) -> dict:
    torch.save(model.state_dict(), out / "weights.pt")
    fp32 = density.to_onnx(model, cfg.width, cfg.height, out / "model.onnx")
    forms = {"fp32": fp32}
    if cfg.int8:
        calibration = [train.pixels[i:i + 1] for i in range(min(16, len(train.pixels)))]
        quantize_onnx(fp32, out / "model.int8.onnx", "input", calibration)
        forms["int8"] = out / "model.int8.onnx"
    baseline = np.full(len(val.counts), float(train.counts.mean()))
    metrics = {"backbone": origin, "train_images": len(train.counts), "val_images": len(val.counts),
               "mean_count_baseline": count_errors(baseline, val.counts)}
    for form, path in forms.items():
        metrics[form] = count_errors(onnx_counts(path, val.pixels), val.counts)
    default = "int8" if "int8" in forms and metrics["int8"]["mae"] <= 1.05 * metrics["fp32"]["mae"] + 0.5 else "fp32"
    metrics["default_form"] = default
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    write_manifests(cfg, out, forms, default)
    return {"name": cfg.name, "out": str(out), **metrics}


def onnx_counts(path: Path, pixels: np.ndarray) -> np.ndarray:
    session = open_session(path, "onnxruntime")
    return np.array([float(session.run([pixels[i:i + 1]])[0].sum()) for i in range(len(pixels))])


def write_manifests(cfg: CrowdTrainConfig, out: Path, forms: dict[str, Path], default: str) -> None:
    folder = out / "manifests"
    folder.mkdir(exist_ok=True)
    origin = "synthetic crowds (NOT for real use)" if cfg.synthetic else f"points in {cfg.dataset}"
    for form, path in forms.items():
        spec = ModelSpec(
            name=f"{cfg.name}.{form}", task="crowd", format="onnx", runtime="onnxruntime",
            input=InputSpec(width=cfg.width, height=cfg.height, layout="NCHW", dtype="float32", resize="stretch"),
            files={"model": ModelFile(name=path.name, sha256=sha256_of(path), size=path.stat().st_size,
                                      sources=(PathSource(path=str(path.resolve())),))},
            licence="your own training run; backbone weights under their own licence (see `vigil models list`)",
            description=f"crowd density regressor ({cfg.arch}, {form}) trained on {origin}")
        for name in (spec.name, cfg.name) if form == default else (spec.name,):
            (folder / f"{name}.json").write_text(spec.model_copy(update={"name": name}).model_dump_json(indent=2))
