"""The built-in architectures, and the store's EfficientNet-Lite0 weights proved right on real ImageNet pictures."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import fixture_image
from vigil.errors import BadInput, ModelIntegrityError
from vigil.train import archs
from vigil.train.data import load_image
from vigil.train.weights import ARCHS, build_backbone, read_state_dict, store_weights


@pytest.mark.parametrize("name, size, width, channels", [
    ("efficientnet_lite0", 64, 1.0, 1280),
    ("mobilenet_v2", 64, 1.0, 1280),
    ("mobilenet_v2", 64, 0.5, 1280),
    ("resnet50", 64, 1.0, 2048),
    ("mobilenet_v1", 96, 0.25, 256),
    ("darknet19", 64, 1.0, 1024),
])
def test_backbones_give_their_feature_maps(name, size, width, channels):
    backbone, origin = build_backbone(name, size, width, None, None, pretrained=False)
    model = archs.TransferNet(backbone, 3).eval()
    with torch.no_grad():
        features = backbone(torch.zeros(2, 3, size, size))
        probs = archs.Deployable(model)(torch.zeros(2, 3, size, size))
    assert origin == "random init"
    assert features.shape[:2] == (2, channels) and backbone.out_channels == channels
    assert probs.shape == (2, 3) and torch.allclose(probs.sum(1), torch.ones(2))
    assert backbone.top() and all(isinstance(m, torch.nn.Module) for m in backbone.top())


def test_unknown_arch_is_a_typed_error():
    with pytest.raises(BadInput, match="efficientnet_lite0"):
        build_backbone("vgg16", 64, 1.0, None, None)


@pytest.mark.parametrize("image, expected", [
    ("eagle.jpg", {22}),  # bald eagle
    ("giraffe.jpg", {340}),  # zebra (ImageNet-1k has no giraffe)
    ("dog.jpg", set(range(151, 269))),  # any dog breed
])
def test_store_weights_classify_imagenet_pictures(store, image, expected):
    """Every tensor loads and the network agrees with ImageNet: proof that the padding and layer order match."""
    state = store_weights(store, "efficientnet_lite0.imagenet")
    backbone, origin = build_backbone("efficientnet_lite0", 224, 1.0, None, store)
    assert origin.endswith("(294 tensors)")
    fc = torch.nn.Linear(1280, 1000)
    fc.load_state_dict({"weight": state["_fc.weight"], "bias": state["_fc.bias"]})
    pixels = torch.from_numpy(load_image(str(fixture_image(image)), 224)).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        logits = fc(backbone.eval()((pixels - 127.0) / 128.0).mean(dim=(2, 3)))
    assert int(logits.argmax()) in expected


def test_weights_file_round_trip_and_mismatch(tmp_path):
    from safetensors.torch import save_file

    donor, _ = build_backbone("darknet19", 64, 1.0, None, None, pretrained=False)
    save_file({k: v.contiguous() for k, v in donor.state_dict().items()}, str(tmp_path / "d.safetensors"))
    torch.save(donor.state_dict(), tmp_path / "d.pth")
    for path in (tmp_path / "d.safetensors", tmp_path / "d.pth"):
        loaded, origin = build_backbone("darknet19", 64, 1.0, path, None)
        assert str(path) in origin
        assert torch.equal(loaded.state_dict()["features.0.0.weight"], donor.state_dict()["features.0.0.weight"])
    with pytest.raises(ModelIntegrityError, match="no tensor matches"):
        build_backbone("resnet50", 64, 1.0, tmp_path / "d.safetensors", None)
    with pytest.raises(BadInput):
        read_state_dict(tmp_path / "absent.pth")


def test_registry_lists_the_issue_architectures():
    assert set(ARCHS) == {"efficientnet_lite0", "mobilenet_v2", "resnet50", "mobilenet_v1", "darknet19"}


def test_grey_backbone_takes_rgb_weights_summed_over_colours(tmp_path):
    from safetensors.torch import save_file

    donor, _ = build_backbone("darknet19", 32, 1.0, None, None, pretrained=False)
    path = tmp_path / "rgb.safetensors"
    save_file({k: v.contiguous() for k, v in donor.state_dict().items()}, str(path))
    grey, origin = build_backbone("darknet19", 32, 1.0, path, None, channels=1)
    assert "rgb.safetensors" in origin
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():  # grey = r = g = b: the summed kernel sees the same picture
        assert torch.allclose(grey.eval()(x), donor.eval()(x.expand(-1, 3, -1, -1)), atol=1e-4)
