"""Model files shaped like real ones, for the dashboard's tests (``from real_model_files import ...``).

``imagenet_224()`` is a TorchScript file that takes 224-px ImageNet-normalised images only: it
refuses any other size and undoes the normalisation inside, so an image that was not normalised
gives other (wrong) answers. Behind it is a DemoCNN on the 128-px frame (seeded weights), so its
saliency comes from a real convolutional network. ``k_class(k)`` is the same with ``k`` outputs.
"""

from __future__ import annotations

import io

import torch
import torch.nn.functional as F
from torch import nn

from saliency_core.data.preprocess import IMAGENET_MEAN, IMAGENET_STD
from saliency_core.zoo.architecture import DemoCNN


class Imagenet224(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != 224 or x.shape[-2] != 224:
            raise ValueError("this model takes 224x224 images")
        pixels = x * self.std + self.mean  # back to [0, 1] pixels: the input must be normalised
        return self.inner(F.interpolate(pixels, size=(128, 128), mode="bilinear", align_corners=False))


def demo_cnn(seed: int, classes: int = 2) -> nn.Module:
    torch.manual_seed(seed)
    return DemoCNN(classes=classes).eval()


def reference_model(seed: int = 0, classes: int = 2) -> nn.Module:
    """The model in this process (for references): the same weights as the files below."""
    return Imagenet224(demo_cnn(seed, classes)).eval()


def scripted(module: nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module.eval()), buffer)
    return buffer.getvalue()


def imagenet_224(seed: int = 0) -> bytes:
    """TorchScript: 224 px, ImageNet normalisation, two outputs (cat, dog)."""
    return scripted(reference_model(seed))


def k_class(k: int, seed: int = 0) -> bytes:
    """TorchScript: 224 px, ImageNet normalisation, ``k`` outputs."""
    return scripted(reference_model(seed, k))
