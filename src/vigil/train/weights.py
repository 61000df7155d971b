"""The architecture registry and weight loading: pretrained files come through the model store (sha256 pinned);
a `.pth` is read once with `torch.load(weights_only=True)` and kept beside it as safetensors."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from vigil.errors import BadInput, ModelIntegrityError
from vigil.registry.store import DERIVED, ModelStore, sha256_of
from vigil.train import archs

log = logging.getLogger(__name__)
IMAGENET_MEAN, IMAGENET_STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class Arch:
    name: str
    build: Callable[[int, float, int], nn.Module]  # (input size, width multiplier, input channels) -> backbone
    mean: tuple[float, float, float]  # in 0..255 pixel units, RGB
    std: tuple[float, float, float]
    size: int  # the input side it was designed for
    pretrained: str | None = None  # model-store name of its ImageNet weights
    # from scratch: the cyclical rate's top and the augmentation (data.AUGMENTS) unless the command names them
    scratch_max_lr: float = 0.05
    scratch_augment: str = "seed"


ARCHS = {a.name: a for a in [
    Arch("efficientnet_lite0", lambda s, w, c: archs.EfficientNetLite0(s, c), (127.0,) * 3, (128.0,) * 3, 224,
         "efficientnet_lite0.imagenet"),
    Arch("mobilenet_v2", lambda s, w, c: archs.MobileNetV2(w, c), IMAGENET_MEAN, IMAGENET_STD, 224),
    Arch("resnet50", lambda s, w, c: archs.ResNet50(c), IMAGENET_MEAN, IMAGENET_STD, 224),
    Arch("mobilenet_v1", lambda s, w, c: archs.MobileNetV1(w, c), (127.5,) * 3, (127.5,) * 3, 96),
    # 25 px faces at 32 px (issue 24): at 0.05 the loss blew up at every cycle's peak; the seed's 40° turns and 20%
    # shifts move a tight face crop's eyes out of frame
    Arch("darknet19", lambda s, w, c: archs.Darknet19(c), (0.0,) * 3, (255.0,) * 3, 32, scratch_max_lr=0.02,
         scratch_augment="light"),
]}


def arch(name: str) -> Arch:
    if name not in ARCHS:
        raise BadInput(f"unknown architecture {name!r}; choose one of {', '.join(ARCHS)}")
    return ARCHS[name]


def pixel_norm(spec: Arch, gray: bool) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std per input channel: the arch's RGB ones, or their average for one grey channel."""
    if not gray:
        return spec.mean, spec.std
    return (sum(spec.mean) / 3,), (sum(spec.std) / 3,)


def build_backbone(name: str, size: int, width: float, weights: Path | None, store: ModelStore | None,
                   pretrained: bool = True, channels: int = 3) -> tuple[nn.Module, str]:
    """The backbone with its weights: a user's file, else the store's ImageNet file, else random init.
    Returns the module and a one-line description of where its weights came from."""
    spec = arch(name)
    backbone = spec.build(size, width, channels)
    if weights is not None:
        return backbone, _apply(backbone, read_state_dict(weights), str(weights))
    if pretrained and spec.pretrained and store is not None:
        return backbone, _apply(backbone, store_weights(store, spec.pretrained), spec.pretrained)
    return backbone, "random init"


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise BadInput(f"{path}: no such weights file")
    if path.suffix == ".safetensors":
        return load_file(str(path))
    try:  # weights_only: a .pth is a pickle, and only tensors may come out of it
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelIntegrityError(f"{path}: not a plain PyTorch state dict: {exc}") from None
    return state.get("state_dict", state) if isinstance(state, dict) else {}


def store_weights(store: ModelStore, name: str) -> dict[str, torch.Tensor]:
    """The store's `.pth`, converted once to `weights.safetensors` in the model folder (its sha256 recorded in
    derived.json and checked on every later load, like any converted file)."""
    folder = store.pull(name)
    target, record_path = folder / "weights.safetensors", folder / DERIVED
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    if target.is_file() and record.get(target.name) == sha256_of(target):
        return load_file(str(target))
    state = read_state_dict(store.path(name, "weights"))
    tensors = {k: v.contiguous() for k, v in state.items() if isinstance(v, torch.Tensor)}
    part = folder / f".{target.name}.part"
    save_file(tensors, str(part))
    part.replace(target)
    record[target.name] = sha256_of(target)
    record_path.write_text(json.dumps(record, indent=2))
    return tensors


def _to_grey(tensor: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """An RGB stem's kernel for a grey input: grey = r = g = b, so the sum over the colour axis gives the same
    response."""
    if tensor.ndim == 4 and own.ndim == 4 and tensor.shape[1] == 3 and own.shape[1] == 1:
        return tensor.sum(1, keepdim=True)
    return tensor


def _apply(backbone: nn.Module, state: dict[str, torch.Tensor], origin: str) -> str:
    own = backbone.state_dict()
    state = {k: _to_grey(v, own[k]) if k in own else v for k, v in state.items()}
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise ModelIntegrityError(f"{origin}: no tensor matches this architecture's parameter names and shapes")
    missing = [k for k in own if k not in usable and not k.endswith("num_batches_tracked")]
    backbone.load_state_dict(usable, strict=False)
    if missing:
        log.warning("%s: %d backbone tensors not in the weights file (e.g. %s); they stay randomly initialised",
                    origin, len(missing), missing[0])
    return f"{origin} ({len(usable)} tensors)"
