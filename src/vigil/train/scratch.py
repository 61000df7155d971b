"""Training from scratch: the whole network learns from the first iteration (no head pass on frozen random
features), batch-norm layers in train mode for every training batch, so their running statistics follow the
weights as they change, and in eval mode for validation. SGD with Nesterov momentum 0.9 and weight decay 5e-4 on
the kernels (darknet's own recipe; Smith's cyclical rates were measured with SGD), the rate set every iteration."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from vigil.train.archs import TransferNet
from vigil.train.data import Augment
from vigil.train.trainer import EpochStats, Normalise, batches

MOMENTUM, WEIGHT_DECAY = 0.9, 5e-4


def sgd(model: nn.Module, lr: float) -> torch.optim.SGD:
    """Decay on kernels only: decaying batch-norm scales and biases only fights the normalisation."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim > 1], "weight_decay": WEIGHT_DECAY},
              {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=lr, momentum=MOMENTUM, nesterov=True)


def train_everything(model: TransferNet) -> None:
    for p in model.parameters():
        p.requires_grad_(True)


@dataclass
class Iterations:
    """What every iteration did: (iteration, epoch, lr, batch loss, batch accuracy)."""

    rows: list[tuple[int, int, float, float, float]] = field(default_factory=list)


def scratch_epoch(model: TransferNet, x: np.ndarray, y: np.ndarray, norm: Normalise, criterion: nn.Module,
                  optimizer: torch.optim.Optimizer, batch: int, rng: np.random.Generator,
                  lr_at: Callable[[int], float], first_it: int, epoch: int, augment: Augment | None = None
                  ) -> tuple[float, float, Iterations]:
    """One epoch of augmented batches through the whole network; mean loss, accuracy and the iteration log."""
    model.train()  # batch norm learns its statistics from every batch
    augment, labels, log = augment or Augment(), torch.from_numpy(y), Iterations()
    total, correct, seen, it = 0.0, 0, 0, first_it
    for idx in batches(len(x), batch, rng):
        if len(idx) < 2:  # batch norm cannot normalise a batch of one
            continue
        lr = lr_at(it)
        for group in optimizer.param_groups:
            group["lr"] = lr
        logits = model(norm(augment.batch(x[idx], rng)))
        loss = criterion(logits, labels[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        hits = int((logits.argmax(1) == labels[idx]).sum())
        log.rows.append((it, epoch, lr, loss.item(), hits / len(idx)))
        total, correct, seen, it = total + loss.item() * len(idx), correct + hits, seen + len(idx), it + 1
    return total / max(1, seen), correct / max(1, seen), log


@torch.no_grad()
def settle_batch_norm(model: TransferNet, x: np.ndarray, norm: Normalise, batch: int) -> None:
    """Recompute every batch-norm layer's statistics as the exact average over the (clean) training images
    under the current weights ("precise BN"): with a handful of iterations per epoch and a rate that rises to
    its maximum, the running averages lag the weights and evaluation in eval mode would see stale statistics."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average over the batches below
    model.train()
    for idx in batches(len(x), batch):
        if len(idx) >= 2:
            model(norm(x[idx]))
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    model.eval()


@torch.no_grad()
def evaluate(model: TransferNet, x: np.ndarray, y: np.ndarray, norm: Normalise, criterion: nn.Module,
             batch: int) -> tuple[float, float]:
    model.eval()
    labels, total, correct = torch.from_numpy(y), 0.0, 0
    for idx in batches(len(x), batch):
        logits = model(norm(x[idx]))
        total += criterion(logits, labels[idx]).item() * len(idx)
        correct += int((logits.argmax(1) == labels[idx]).sum())
    return total / max(1, len(x)), correct / max(1, len(x))


def iterations_per_epoch(n: int, batch: int) -> int:
    return n // batch + (1 if n % batch >= 2 else 0)


def run_epoch(model: TransferNet, data: tuple[np.ndarray, ...], norm: Normalise, criterion: nn.Module,
              optimizer: torch.optim.Optimizer, batch: int, rng: np.random.Generator,
              lr_at: Callable[[int], float], first_it: int, epoch: int, augment: Augment | None = None
              ) -> tuple[EpochStats, Iterations]:
    x_train, y_train, x_val, y_val = data
    start = time.perf_counter()
    train_loss, train_acc, log = scratch_epoch(model, x_train, y_train, norm, criterion, optimizer, batch, rng,
                                               lr_at, first_it, epoch, augment)
    settle_batch_norm(model, x_train, norm, batch)
    val_loss, val_acc = evaluate(model, x_val, y_val, norm, criterion, batch)
    return EpochStats(train_loss, train_acc, val_loss, val_acc, time.perf_counter() - start), log
