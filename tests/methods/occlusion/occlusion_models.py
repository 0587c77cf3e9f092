"""Models and the independent naive occlusion loop shared by the occlusion engine tests."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from saliency_core.zoo.architecture import DemoCNN


def _randomise_batchnorm(model: nn.Module) -> nn.Module:
    """Non-trivial running statistics, so BatchNorm is not the identity it is at initialisation."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.weight.data.copy_(1 + 0.2 * torch.randn(module.num_features, generator=generator))
            module.bias.data.copy_(0.1 * torch.randn(module.num_features, generator=generator))
    return model.eval()


def demo_cnn() -> nn.Module:
    return _randomise_batchnorm(DemoCNN(width=4))


class ToyNet(nn.Module):
    """Max/avg pooling, a dilated branch, concatenation, element-wise ops and torch.mean pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.branch1 = nn.Conv2d(6, 4, 1)
        self.branch2 = nn.Conv2d(6, 4, 3, padding=2, dilation=2)
        self.avg = nn.AvgPool2d(2, stride=2)
        self.act = nn.LeakyReLU(0.1)
        self.head = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.conv(x * 2.0 - 1.0))
        x = self.pool(x)
        x = torch.cat([self.branch1(x), torch.sigmoid(self.branch2(x))], dim=1)
        x = self.act(self.avg(x)) * 1.5
        return self.head(torch.mean(x, dim=(2, 3)))


class MaxPoolHead(nn.Module):
    """A conv trunk ending in a global max pool, written in one of its three forms (the zoo's
    watermark series uses ``torch.amax``)."""

    def __init__(self, form: str) -> None:
        super().__init__()
        self.form = form
        self.conv = nn.Conv2d(3, 5, 3, padding=1)
        self.down = nn.Conv2d(5, 6, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(6, 3)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.down(torch.relu(self.conv(x))))
        if self.form == "amax":
            pooled = torch.amax(x, dim=(2, 3))
        elif self.form == "amax_keepdim_method":
            pooled = x.amax(dim=(-1, -2), keepdim=True).flatten(1)
        elif self.form == "adaptive_function":
            pooled = torch.nn.functional.adaptive_max_pool2d(x, 1).flatten(1)
        else:
            pooled = self.pool(x).flatten(1)
        return self.head(pooled)


def naive_deltas(model: nn.Module, images: Tensor, window: tuple[int, int], stride: tuple[int, int],
                 baseline: Tensor, target: Tensor) -> Tensor:
    """One forward pass per window, positions written out independently of the kernels."""
    height, width = images.shape[2:]
    shapes = {0: (1, 1, 1, 1), 1: (1, -1, 1, 1), 3: (1, *baseline.shape), 4: tuple(baseline.shape)}
    base = baseline.reshape(shapes[baseline.dim()]).expand_as(images)
    copies = []
    for top in range(0, -(-(height - window[0]) // stride[0]) * stride[0] + 1, stride[0]):
        for left in range(0, -(-(width - window[1]) // stride[1]) * stride[1] + 1, stride[1]):
            occluded = images.clone()
            box = (slice(None), slice(None), slice(top, top + window[0]), slice(left, left + window[1]))
            occluded[box] = base[box]
            copies.append(occluded)
    with torch.no_grad():  # one pass over all copies: rows are window-major (window · B + image)
        clean = model(images).gather(1, target[:, None])[:, 0]
        scores = model(torch.cat(copies)).gather(1, target.repeat(len(copies))[:, None])[:, 0]
    return clean[:, None] - scores.view(len(copies), -1).T


class FlattenHead(nn.Module):
    """A Linear on the flattened spatial map: every output depends on every position."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)
        self.fc = nn.Linear(2 * 16 * 16, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.conv(x), 1))


class AttentionLike(nn.Module):
    """Spatial self-attention through view/bmm: a global mixing the engine cannot localise."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        f = self.conv(x)
        flat = f.view(f.shape[0], f.shape[1], -1)
        mixed = torch.bmm(flat, torch.softmax(torch.bmm(flat.transpose(1, 2), flat), dim=-1))
        return self.fc(mixed.mean(-1))


class TrainingBatchNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.bn(self.conv(x)).mean((2, 3)))
