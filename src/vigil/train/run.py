"""One training run in its folder: config, split, checkpoints (resume), metrics CSV, curves, report, confusion
matrix, the model in safetensors, the fp32 ONNX and a store manifest. Called by `vigil train classify`."""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from vigil.config.training import DEFAULT_SEED, SPLIT_SEED
from vigil.errors import BadInput
from vigil.registry.store import ModelStore
from vigil.runtimes.onnx import default_threads
from vigil.train import data, trainer
from vigil.train.archs import TransferNet
from vigil.train.seeding import seed_all
from vigil.train.weights import arch, build_backbone, pixel_norm

log = logging.getLogger(__name__)
CSV_FIELDS = ["pass", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"]
LR_FIELDS = ["iteration", "epoch", "lr", "loss", "acc"]


@dataclass
class TrainConfig:
    dataset: str
    arch: str = "efficientnet_lite0"
    name: str = ""
    size: int = 0  # 0: the architecture's own input size
    width: float = 1.0
    weights: str | None = None
    pretrained: bool = True
    epochs: int = 100  # pass 1 maximum (early stopping, patience below)
    patience: int = 10
    fine_tune_epochs: int = 5
    batch: int = 32
    lr: float = 1e-3
    feature_copies: int = 0  # augmented views added to the pass-1 cache (0: the features are computed once)
    gray: bool = False  # one grey input channel instead of RGB
    scratch_epochs: int = 20  # from scratch: epochs of whole-network training (replaces both passes)
    augment: str = ""  # seed | light (data.AUGMENTS); "": the arch's from scratch, else the seed's
    lr_schedule: str = ""  # from scratch: triangular (the default) | triangular2 | exp_range | constant (base_lr)
    base_lr: float = 0.002  # from lr-find on lfw_subset with darknet19 (README)
    max_lr: float = 0.0  # 0: the arch's (weights.Arch.scratch_max_lr: darknet19 0.02, the others 0.05)
    step_size: int = 0  # iterations per half cycle; 0: four whole cycles over the run (Smith: 2-10 epochs)
    gamma: float = 0.99994  # exp_range
    seed: int = DEFAULT_SEED  # training: weights' init, data order, augmentation (train/seeding.py)
    threads: int = 0  # 0: every core; config.json records the count the run used (part of the recipe)
    split_seed: int = SPLIT_SEED  # the split, kept apart from `seed` so seeds compare on the same test images
    fold: int | None = None  # None: the fixed 20% test split; k: fold k of a stratified `folds`-fold
    folds: int = 5
    extra: dict = field(default_factory=dict)

    def resolved(self, out: Path) -> TrainConfig:
        spec = arch(self.arch)
        return TrainConfig(**{**asdict(self), "dataset": str(Path(self.dataset).resolve()),
                              "size": self.size or spec.size, "name": self.name or f"person.{out.resolve().name}",
                              "threads": self.threads or default_threads(),
                              "max_lr": self.max_lr or spec.scratch_max_lr,
                              "augment": data.augment_for(self.augment,
                                                          spec.scratch_augment if self.from_scratch else "seed"),
                              "lr_schedule": self.lr_schedule or ("triangular" if self.from_scratch else "constant")})

    @property
    def from_scratch(self) -> bool:
        """No weights to start from: a random-init network trains whole (train/scratch.py)."""
        return self.weights is None and not (self.pretrained and arch(self.arch).pretrained)


class Run:
    def __init__(self, out: Path, config: TrainConfig, store: ModelStore | None = None):
        self.out, self.store = out, store
        self.config = config.resolved(out)
        self.spec = arch(self.config.arch)
        self.mean, self.std = pixel_norm(self.spec, self.config.gray)
        self.norm = trainer.Normalise(self.mean, self.std)
        self.state = self._open()

    def _open(self) -> dict:
        """Create the folder, or resume one made with the same config."""
        self.out.mkdir(parents=True, exist_ok=True)
        saved = self.out / "config.json"
        mine = asdict(self.config)
        if saved.is_file():
            theirs = json.loads(saved.read_text())
            ignore = {"fine_tune_epochs", "scratch_epochs", "threads"}  # may change on resume: e.g. train longer
            # a key the saved config lacks came later, at its default (its split.json keeps the split it made)
            differ = [k for k in mine if k not in ignore and theirs.get(k, mine[k]) != mine[k]]
            if differ:
                raise BadInput(f"{self.out} holds a run with another config ({', '.join(differ)}); use another --out")
        saved.write_text(json.dumps(mine, indent=2))
        state_path = self.out / "checkpoint.json"
        return json.loads(state_path.read_text()) if state_path.is_file() else {"stage": "new"}

    def split(self) -> data.Split:
        path = self.out / "split.json"
        if path.is_file():
            return data.Split.from_json(json.loads(path.read_text()))
        cfg = self.config
        split = data.split(Path(cfg.dataset), cfg.split_seed, fold=cfg.fold, folds=cfg.folds)
        path.write_text(json.dumps(split.to_json()))
        return split

    def model(self, classes: int) -> tuple[TransferNet, str]:
        cfg = self.config
        seed_all(cfg.seed)  # before the backbone: a random-init backbone's weights are the seed's too
        backbone, origin = build_backbone(cfg.arch, cfg.size, cfg.width, Path(cfg.weights) if cfg.weights else None,
                                          self.store, cfg.pretrained, 1 if cfg.gray else 3)
        return TransferNet(backbone, classes), origin

    def log_epoch(self, stage: int, epoch: int, stats: trainer.EpochStats) -> None:
        _append_csv(self.out / "metrics.csv", CSV_FIELDS,
                    [[stage, epoch, *(round(v, 5) for v in asdict(stats).values())]])

    def log_iterations(self, rows: list[tuple[int, int, float, float, float]]) -> None:
        """`lr.csv`: the learning rate, batch loss and batch accuracy of every training iteration."""
        _append_csv(self.out / "lr.csv", LR_FIELDS, [(it, epoch, f"{lr:.6g}", round(loss, 5), round(acc, 4))
                                                    for it, epoch, lr, loss, acc in rows])

    def checkpoint(self, model: TransferNet, optimizer: torch.optim.Optimizer | None, **state) -> None:
        tensors = {f"model.{k}": v.contiguous() for k, v in model.state_dict().items()}
        groups = []
        if optimizer is not None:
            saved = optimizer.state_dict()
            for idx, values in saved["state"].items():
                tensors.update({f"opt.{idx}.{k}": torch.as_tensor(v).contiguous() for k, v in values.items()})
            groups = saved["param_groups"]
        part = self.out / ".checkpoint.safetensors.part"
        save_file(tensors, str(part))
        part.replace(self.out / "checkpoint.safetensors")  # atomic: a crash never leaves half a checkpoint
        self.state = {**state, "param_groups": groups}
        (self.out / "checkpoint.json").write_text(json.dumps(self.state, indent=2))

    def restore(self, model: TransferNet, optimizer: torch.optim.Optimizer | None = None) -> None:
        tensors = load_file(str(self.out / "checkpoint.safetensors"))
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        if optimizer is not None and self.state.get("param_groups"):
            per_param: dict[int, dict] = {}
            for key, value in tensors.items():
                if key.startswith("opt."):
                    _, idx, name = key.split(".", 2)
                    per_param.setdefault(int(idx), {})[name] = value
            optimizer.load_state_dict({"state": per_param, "param_groups": self.state["param_groups"]})

    def save_model(self, model: TransferNet, labels: tuple[str, ...]) -> Path:
        path = self.out / "model.safetensors"
        metadata = {"arch": self.config.arch, "labels": json.dumps(list(labels)), "size": str(self.config.size)}
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata=metadata)
        return path


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def load_pixels(run: Run, split: data.Split) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    size = run.config.size
    return {name: data.load_all(getattr(split, name), size, run.config.gray) for name in ("train", "val", "test")}


def _append_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Rows appended to a CSV file (a resumed run continues it), the header first when the file is new."""
    new = not path.is_file()
    with path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(header)
        writer.writerows(rows)
