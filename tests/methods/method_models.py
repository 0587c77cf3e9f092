"""Small models with known structure, shared by the method tests."""

from __future__ import annotations

import copy

import torch
from torch import nn

SHAPE = (3, 8, 8)


class Linear(nn.Module):
    """f(x) = W · vec(x) + b: every gradient method has a closed form on it."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.fc = nn.Linear(SHAPE[0] * SHAPE[1] * SHAPE[2], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))

    def weights(self, k: int) -> torch.Tensor:
        return self.fc.weight[k].detach().view(SHAPE)


class SmallCNN(nn.Module):
    """Conv + (optionally in-place) ReLU modules, pooling and a linear head; 3 classes."""

    def __init__(self, inplace: bool = True, classes: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.relu1 = nn.ReLU(inplace=inplace)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.relu2 = nn.ReLU(inplace=inplace)
        self.head = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        return self.head(x.mean(dim=(2, 3)))


def without_inplace(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose ReLUs are not in-place (Captum's hooks need that)."""
    twin = copy.deepcopy(model)
    for module in twin.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return twin
