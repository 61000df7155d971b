"""The seed's two passes. Pass 1 trains the head on features the frozen backbone computes ONCE (clean images plus
a few augmented copies), so it costs a handful of matrix products per epoch instead of full convolutions; early
stopping on validation loss. Pass 2 unfreezes the top of the backbone and trains end to end at lr / 10."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from vigil.train.archs import TransferNet
from vigil.train.data import Augment

L2 = 1e-4  # the seed's Dense(128) kernel regulariser; Adam's weight_decay adds wd·w to the gradient, L2 adds 2·l2·w


@dataclass
class EpochStats:
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    seconds: float


class Normalise:
    """uint8 NHWC batches (3 or 1 channels) → float NCHW (x - mean) / std, in the arch's pixel units."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    def __call__(self, pixels: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).float()
        return (x - self.mean) / self.std


def batches(n: int, size: int, rng: np.random.Generator | None = None) -> Iterator[np.ndarray]:
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, size):
        yield order[start:start + size]


@torch.no_grad()
def pooled_features(model: TransferNet, pixels: np.ndarray, norm: Normalise, batch: int, desc: str) -> torch.Tensor:
    model.eval()
    out = [model.pooled(norm(pixels[idx])) for idx in tqdm(list(batches(len(pixels), batch)), desc=desc,
                                                             leave=False, disable=None)]
    return torch.cat(out) if out else torch.zeros((0, model.backbone.out_channels))


def feature_cache(model: TransferNet, pixels: np.ndarray, norm: Normalise, batch: int, copies: int,
                  rng: np.random.Generator, augment: Augment | None = None) -> torch.Tensor:
    """Features of the clean images and `copies` augmented versions: (copies + 1) × n rows."""
    augment = augment or Augment()
    sets = [pixels] + [augment.batch(pixels, rng) for _ in range(copies)]
    return torch.cat([pooled_features(model, p, norm, batch, f"features {i + 1}/{len(sets)}")
                      for i, p in enumerate(sets)])


def loss_fn(class_weights: np.ndarray) -> nn.CrossEntropyLoss:
    return nn.CrossEntropyLoss(weight=torch.from_numpy(class_weights), label_smoothing=0.1)


def head_optimizer(head: nn.Module, lr: float, extra: list[nn.Parameter] | None = None) -> torch.optim.Adam:
    decayed = [p for name, p in head.named_parameters() if name == "fc1.weight"]  # none in a one-layer head
    groups = [{"params": decayed, "weight_decay": 2 * L2},
              {"params": [p for name, p in head.named_parameters() if name != "fc1.weight"], "weight_decay": 0.0}]
    if extra:
        groups.append({"params": extra, "weight_decay": 0.0})
    return torch.optim.Adam(groups, lr=lr)


def _step(logits_of: Callable[[np.ndarray], torch.Tensor], y: torch.Tensor, n: int, batch: int,
          criterion: nn.Module, optimizer: torch.optim.Optimizer | None, rng: np.random.Generator | None
          ) -> tuple[float, float]:
    """One epoch over n rows (training when an optimizer is given); mean loss and accuracy."""
    total_loss, correct = 0.0, 0
    for idx in batches(n, batch, rng):
        with torch.set_grad_enabled(optimizer is not None):
            logits = logits_of(idx)
            loss = criterion(logits, y[idx])
        if optimizer is not None:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        total_loss += loss.item() * len(idx)
        correct += int((logits.argmax(1) == y[idx]).sum())
    return total_loss / max(1, n), correct / max(1, n)


def train_head(model: TransferNet, cache: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
               class_weights: np.ndarray, lr: float, epochs: int, patience: int, batch: int, seed: int,
               on_epoch: Callable[[int, EpochStats], None]) -> int:
    """Pass 1 on cached features with early stopping; leaves the best head (by val loss) in `model`.
    Returns the number of epochs run."""
    rng, criterion, head = np.random.default_rng(seed), loss_fn(class_weights), model.head
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # (n, 1280) @ (1280, 128): thread hand-offs would cost more than the maths
    try:
        return _train_head(head, cache, criterion, lr, epochs, patience, batch, rng, on_epoch)
    finally:
        torch.set_num_threads(threads)


def _train_head(head: nn.Module, cache: tuple[torch.Tensor, ...], criterion: nn.Module, lr: float, epochs: int,
                patience: int, batch: int, rng: np.random.Generator,
                on_epoch: Callable[[int, EpochStats], None]) -> int:
    x_train, y_train, x_val, y_val = cache
    optimizer = head_optimizer(head, lr)
    best, best_state, stale, epoch = float("inf"), copy.deepcopy(head.state_dict()), 0, 0
    for epoch in tqdm(range(1, epochs + 1), desc="pass 1 (cached features)", leave=False, disable=None):
        start = time.perf_counter()
        head.train()
        tr = _step(lambda i: head(x_train[i]), y_train, len(x_train), batch, criterion, optimizer, rng)
        head.eval()
        va = _step(lambda i: head(x_val[i]), y_val, len(x_val), batch, criterion, None, None)
        on_epoch(epoch, EpochStats(*tr, *va, time.perf_counter() - start))
        if va[0] < best - 1e-4:
            best, best_state, stale = va[0], copy.deepcopy(head.state_dict()), 0
        else:
            stale += 1
            if stale >= patience:
                break
    head.load_state_dict(best_state)
    return epoch


def unfreeze_top(model: TransferNet, everything: bool = False) -> list[nn.Parameter]:
    """The top of a pretrained backbone; all of a randomly initialised one (nothing below is worth keeping)."""
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    modules = [model.backbone] if everything else model.backbone.top()
    params = [p for module in modules for p in module.parameters()]
    for p in params:
        p.requires_grad_(True)
    return params


def fine_tune_epoch(model: TransferNet, data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                    norm: Normalise, criterion: nn.Module, optimizer: torch.optim.Optimizer, batch: int,
                    rng: np.random.Generator, from_scratch: bool = False, augment: Augment | None = None
                    ) -> EpochStats:
    """One pass-2 epoch: augmented images through the whole network. Batch-norm statistics stay frozen (eval
    mode), as Keras fine-tuning does, so small batches cannot wreck the pretrained statistics; a backbone trained
    from scratch learns them (train mode)."""
    x_train, y_train, x_val, y_val = data
    augment, start = augment or Augment(), time.perf_counter()
    yt, yv = torch.from_numpy(y_train), torch.from_numpy(y_val)
    model.train(from_scratch)
    model.head.train()
    tr = _step(lambda i: model(norm(augment.batch(x_train[i], rng))), yt, len(x_train), batch, criterion,
               optimizer, rng)
    model.eval()
    va = _step(lambda i: model(norm(x_val[i])), yv, len(x_val), batch, criterion, None, None)
    return EpochStats(*tr, *va, time.perf_counter() - start)


@torch.no_grad()
def predict(model: TransferNet, pixels: np.ndarray, norm: Normalise, batch: int = 64) -> np.ndarray:
    model.eval()
    out = [torch.softmax(model(norm(pixels[idx])), 1) for idx in batches(len(pixels), batch)]
    return torch.cat(out).numpy() if out else np.zeros((0, len(model.head.fc2.bias)), np.float32)
