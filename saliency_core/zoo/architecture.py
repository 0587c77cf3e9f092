"""The demo CNN: a small ResNet-style network in plain torch (no torchvision: it pulls CUDA torch).

Models take images in [0, 1] (NCHW, RGB) and normalise inside, so saliency is always taken with
respect to the pixels a person sees. Output: logits ``[B, K]``; class 0 is "cat", 1 is "dog".
"""

from __future__ import annotations

import torch
from torch import nn

CLASSES: tuple[str, ...] = ("cat", "dog")
# ImageNet statistics: a conventional choice that keeps activations well scaled.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (a 1x1 projection when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class Normalize(nn.Module):
    def __init__(self, mean: tuple[float, ...] = MEAN, std: tuple[float, ...] = STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class DemoCNN(nn.Module):
    """Stem (2x2 average pool + conv stride 2) + four residual stages (strides 1, 2, 2, 2) + global average pool + linear."""

    def __init__(self, width: int = 16, classes: int = len(CLASSES)) -> None:
        super().__init__()
        w = width
        self.normalize = Normalize()
        self.stem = nn.Sequential(
            # Average-pool to 64x64 first: the network sees a 64 px image, which makes training
            # ~2x cheaper on the shared 2-core CPU (the whole zoo must train in under an hour).
            # Inputs and saliency maps stay 128x128; gradients come out in 2x2 blocks.
            nn.AvgPool2d(2),
            nn.Conv2d(3, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
        )
        self.layer1 = BasicBlock(w, w)
        self.layer2 = BasicBlock(w, 2 * w, stride=2)
        self.layer3 = BasicBlock(2 * w, 4 * w, stride=2)
        self.layer4 = BasicBlock(4 * w, 8 * w, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8 * w, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.normalize(x))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


ARCHITECTURES = {"demo_cnn": DemoCNN}
