"""A trained Darknet-19 classifier in darknet's own files: `.cfg` (the layers) and `.weights` (the seed extracted
its YOLOv2 face detector from this layout). Weights: int32 major, minor, revision, int64 images seen; then per
convolution with batch norm its biases (beta), scales (gamma), rolling mean, rolling variance and kernels
(out, in, k, k); the last convolution (no batch norm) its biases then kernels; all float32 little-endian."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from vigil.errors import BadInput
from vigil.registry.fetch import temporary_path
from vigil.train.archs import Darknet19, TransferNet

MAJOR, MINOR, REVISION = 0, 2, 0  # minor ≥ 2: "seen" is 64 bits


def _layers(model: TransferNet, size: int, channels: int) -> tuple[list[str], list[np.ndarray]]:
    sections = [f"[net]\nbatch=1\nsubdivisions=1\nwidth={size}\nheight={size}\nchannels={channels}\n"]
    arrays: list[np.ndarray] = []
    for block in model.backbone.features:
        if isinstance(block, nn.MaxPool2d):
            sections.append("[maxpool]\nsize=2\nstride=2\n")
            continue
        conv, bn = block[0], block[1]
        sections.append(f"[convolutional]\nbatch_normalize=1\nfilters={conv.out_channels}\n"
                        f"size={conv.kernel_size[0]}\nstride=1\npad=1\nactivation=leaky\n")
        arrays += [bn.bias, bn.weight, bn.running_mean, bn.running_var, conv.weight]
    # darknet19.cfg's tail: the 19th convolution (1×1 to the classes), global average pool, softmax
    fc = model.head.fc2
    sections += [f"[convolutional]\nfilters={fc.out_features}\nsize=1\nstride=1\npad=1\nactivation=linear\n",
                 "[avgpool]\n", "[softmax]\ngroups=1\n"]
    arrays += [fc.bias, fc.weight]
    return sections, [a.detach().cpu().numpy().astype("<f4").ravel() for a in arrays]


def to_darknet(model: TransferNet, size: int, channels: int, stem: Path) -> tuple[Path, Path]:
    """Writes `<stem>.cfg` and `<stem>.weights`; only a Darknet-19 backbone has a darknet form."""
    if not isinstance(model.backbone, Darknet19):
        raise BadInput(f"--to darknet needs a darknet19 run, not {type(model.backbone).__name__}")
    sections, arrays = _layers(model.eval(), size, channels)
    cfg, weights = stem.with_suffix(".cfg"), stem.with_suffix(".weights")
    cfg.write_text("\n".join(sections))
    part = temporary_path(weights.parent, weights.name)
    try:
        with part.open("wb") as f:
            np.array([MAJOR, MINOR, REVISION], "<i4").tofile(f)
            np.array([0], "<i8").tofile(f)
            for array in arrays:
                array.tofile(f)
        part.replace(weights)
    finally:
        part.unlink(missing_ok=True)
    return cfg, weights
