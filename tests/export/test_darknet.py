"""`--to darknet`: the Darknet-19 classifier read back by OpenCV's darknet importer gives torch's outputs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from vigil.errors import BadInput
from vigil.export.darknet import to_darknet
from vigil.train.archs import Darknet19, MobileNetV1, TransferNet


def _model(channels: int) -> TransferNet:
    torch.manual_seed(0)
    model = TransferNet(Darknet19(channels), 2)
    for module in model.modules():  # statistics as training leaves them, not the fresh 0 / 1
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def test_darknet19_keeps_19_convolutions_and_5_max_pools(tmp_path):
    """18 in the backbone, the 19th (1×1 to the classes) is the head: a linear layer on pooled features, which
    is the same computation; the written .cfg spells all 19 out as darknet19.cfg does."""
    model = TransferNet(Darknet19(), 2)
    convs = [m for m in model.backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 18 and convs[-1].out_channels == 1024
    assert isinstance(model.head.fc2, torch.nn.Linear) and model.head.fc2.in_features == 1024
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in model.backbone.features) == 5
    cfg, _ = to_darknet(model.eval(), 32, 3, tmp_path / "d")
    text = cfg.read_text()
    assert text.count("[convolutional]") == 19 and text.count("[maxpool]") == 5


@pytest.mark.parametrize("channels", [3, 1])
def test_opencv_reads_the_weights_back_and_agrees_with_torch(tmp_path, channels):
    model, size = _model(channels), 32
    cfg, weights = to_darknet(model, size, channels, tmp_path / "face")
    header = np.fromfile(weights, "<i4", 3)
    assert header.tolist() == [0, 2, 0]
    params = sum(p.numel() for p in model.parameters()) + sum(
        m.running_mean.numel() * 2 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert weights.stat().st_size == 12 + 8 + 4 * params
    x = np.random.default_rng(1).uniform(0, 1, (2, channels, size, size)).astype(np.float32)
    net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    net.setInput(x)
    theirs = net.forward().reshape(2, -1)
    with torch.no_grad():
        ours = torch.softmax(model(torch.from_numpy(x)), 1).numpy()
    np.testing.assert_allclose(theirs, ours, atol=2e-3)


def test_only_darknet19_has_a_darknet_form(tmp_path):
    with pytest.raises(BadInput, match="darknet19"):
        to_darknet(TransferNet(MobileNetV1(0.25), 2).eval(), 32, 3, tmp_path / "x")
