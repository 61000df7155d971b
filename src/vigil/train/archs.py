"""Backbones built here (no torchvision): EfficientNet-Lite0, MobileNetV2, ResNet-50, MobileNetV1, Darknet-19.

Each backbone maps a normalised NCHW float batch to a feature map and names `top()`, the modules that pass 2
unfreezes. Parameter names follow the files users are likely to hold: EfficientNet-Lite0 the
`efficientnet_lite_pytorch` names (the weights in the model store), MobileNetV2 and ResNet-50 torchvision's, so
`--weights` takes such a state dict as it is.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class SameConv(nn.Conv2d):
    """TensorFlow 'SAME' padding, which the TF-trained EfficientNet-Lite weights expect: a stride-2 conv on an even
    side pads one more pixel bottom/right. Computed from the input size at build time, so export sees constants."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, size: int, groups: int = 1, bias: bool = False):
        super().__init__(cin, cout, k, stride, padding=0, groups=groups, bias=bias)
        total = max((-(-size // stride) - 1) * stride + k - size, 0)
        self.pads = (total // 2, total - total // 2, total // 2, total - total // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.pads) if any(self.pads) else x)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int, size: int):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, momentum=0.01, eps=1e-3)
        self._depthwise_conv = SameConv(mid, mid, k, stride, size, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, momentum=0.01, eps=1e-3)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, momentum=0.01, eps=1e-3)
        self.expand, self.skip = expand, stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand != 1 else x
        y = self._bn2(self._project_conv(F.relu6(self._bn1(self._depthwise_conv(y)))))
        return x + y if self.skip else y


# (repeats, kernel, stride, expand, in, out) of EfficientNet-Lite0 (efficientnet_lite_builder.py)
_LITE0 = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]


class EfficientNetLite0(nn.Module):
    out_channels = 1280

    def __init__(self, size: int, channels: int = 3):
        super().__init__()
        self._conv_stem = SameConv(channels, 32, 3, 2, size)
        self._bn0 = nn.BatchNorm2d(32, momentum=0.01, eps=1e-3)
        size, blocks = -(-size // 2), []
        for repeats, k, stride, expand, cin, cout in _LITE0:
            for i in range(repeats):
                blocks.append(MBConv(cin if i == 0 else cout, cout, k, stride if i == 0 else 1, expand, size))
                size = -(-size // (stride if i == 0 else 1))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, momentum=0.01, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))

    def top(self) -> list[nn.Module]:
        return [*self._blocks[-4:], self._conv_head, self._bn1]


def conv_bn(cin: int, cout: int, k: int, stride: int, groups: int = 1, act: type[nn.Module] = nn.ReLU6
            ) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout),
                         act())


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        layers = [conv_bn(cin, mid, 1, 1)] if expand != 1 else []
        layers += [conv_bn(mid, mid, 3, stride, groups=mid), nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.skip else self.conv(x)


def _divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class MobileNetV2(nn.Module):
    _SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                 (6, 320, 1, 1))

    def __init__(self, width: float = 1.0, channels: int = 3):
        super().__init__()
        cin = _divisible(32 * width)
        self.out_channels = _divisible(1280 * max(1.0, width))
        layers: list[nn.Module] = [conv_bn(channels, cin, 3, 2)]
        for t, c, n, s in self._SETTINGS:
            cout = _divisible(c * width)
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        layers.append(conv_bn(cin, self.out_channels, 1, 1))
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def top(self) -> list[nn.Module]:
        return list(self.features[-5:])


class MobileNetV1(nn.Module):
    """Depthwise-separable stack with a width multiplier (0.25 is the Visual Wake Words size)."""

    _STEPS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1))

    def __init__(self, width: float = 1.0, channels: int = 3):
        super().__init__()
        cin = max(8, int(32 * width))
        layers: list[nn.Module] = [conv_bn(channels, cin, 3, 2)]
        for channels, stride in self._STEPS:
            cout = max(8, int(channels * width))
            layers.append(nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin), conv_bn(cin, cout, 1, 1)))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.out_channels = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def top(self) -> list[nn.Module]:
        return list(self.features[-4:])


class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = width * 4
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNet50(nn.Module):
    out_channels = 2048

    def __init__(self, channels: int = 3):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, stages = 64, []
        for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            stage = []
            for i in range(blocks):
                stage.append(Bottleneck(cin, width, stride if i == 0 else 1))
                cin = width * 4
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def top(self) -> list[nn.Module]:
        return [self.layer4]


class Darknet19(nn.Module):
    """conv (no bias) → BN → LeakyReLU 0.1; max-pools after convs 1, 2, 5, 8 and 13 (ORIGINS 004)."""

    _FILTERS = ((32, 3), (64, 3), (128, 3), (64, 1), (128, 3), (256, 3), (128, 1), (256, 3), (512, 3), (256, 1),
                (512, 3), (256, 1), (512, 3), (1024, 3), (512, 1), (1024, 3), (512, 1), (1024, 3))
    _POOL_AFTER = frozenset({1, 2, 5, 8, 13})
    out_channels = 1024
    # darknet's 19th convolution is a 1×1 to the classes before the global average pool; a linear layer on the
    # pooled features computes the same (both are linear), so the head is that one layer, not the seed's Dense 128
    head_hidden = 0

    def __init__(self, channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        cin = channels
        for i, (cout, k) in enumerate(self._FILTERS, start=1):
            layers.append(conv_bn(cin, cout, k, 1, act=lambda: nn.LeakyReLU(0.1)))
            if i in self._POOL_AFTER:
                layers.append(nn.MaxPool2d(2, 2))
            cin = cout
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def top(self) -> list[nn.Module]:
        return list(self.features[-5:])


class Head(nn.Module):
    """The seed's head on pooled features: Dense 128 ReLU, dropout 0.2, then class logits (softmax at export);
    hidden 0: the class logits alone (Darknet-19's last layer)."""

    def __init__(self, features: int, classes: int, hidden: int = 128, dropout: float = 0.2):
        super().__init__()
        self.hidden = hidden
        if hidden:
            self.fc1, self.drop = nn.Linear(features, hidden), nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden or features, classes)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(F.relu(self.fc1(pooled)))) if self.hidden else self.fc2(pooled)


class TransferNet(nn.Module):
    """A backbone with the seed's head: the network `vigil train classify` trains (exported, it becomes the
    person classifier that tasks/classify.py serves)."""

    def __init__(self, backbone: nn.Module, classes: int):
        super().__init__()
        self.backbone = backbone
        self.head = Head(backbone.out_channels, classes, getattr(backbone, "head_hidden", 128))

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        # adaptive_avg_pool2d, not mean(): the PT2E quantizer annotates it, so the pooling stays int8 in LiteRT
        return F.adaptive_avg_pool2d(self.backbone(x), 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(x))


class Deployable(nn.Module):
    """What export sees: probabilities out; `channels_last` takes NHWC input (LiteRT, microcontrollers)."""

    def __init__(self, model: TransferNet, channels_last: bool = False):
        super().__init__()
        self.model, self.channels_last = model, channels_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        return torch.softmax(self.model(x), dim=1)
