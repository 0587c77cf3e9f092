"""The watermark series' architecture: EfficientNet-Lite0 cut after an early block + a small head.

The frozen ImageNet trunk (normalisation, stem, blocks ``0 .. upto-1``; ``upto = 2``: 24 channels
at stride 4) feeds a small randomly initialised head: two 3x3 convolutions (the second with
stride 2), batch norm and ReLU, a global **max** pool and a 2-class linear layer.

Why (measured, docs/RESULTS.md): from a deep cut (block 11) the pretrained cat/dog features are
already linearly separable, so a model trained with watermarked cats kept using the animal and
only ~5% of its top-0.5% gradient² pixels fell on the mark (the explorable's model: 91%). Early
features carry little "cat vs dog", so the mark becomes the easy feature, and the max pool makes
the decision hinge on the strongest local detector, the mark. The same head and cut for the
25/50/75/100% models keeps the series comparable.

The interface matches :class:`~saliency_core.zoo.efficientnet.EfficientNetLite0` where the
fine-tuning code uses it: ``features(x, upto)``, ``forward_from(h, start)``, ``fc``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .architecture import CLASSES
from .efficientnet import pretrained_model

UPTO = 2  # blocks 0..1 of the pretrained trunk
WIDTH = 64
HEAD_PREFIXES = ("top.", "fc.")  # the trained tensors (everything else is the installed backbone)


class EarlyCut(nn.Module):
    """Pretrained trunk cut after block ``upto - 1`` (frozen) + conv head with a global max pool."""

    def __init__(self, upto: int = UPTO, width: int = WIDTH, classes: int = len(CLASSES), seed: int = 0) -> None:
        super().__init__()
        full = pretrained_model(seed=seed)
        self.upto = upto
        self.normalize, self.stem, self.blocks = full.normalize, full.stem, full.blocks[:upto]
        channels = self.blocks[-1].project[1].num_features
        self.top = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        )
        self.fc = nn.Linear(width, classes)

    def features(self, x: Tensor, upto: int) -> Tensor:
        self._check(upto)
        h = self.stem(self.normalize(x))
        for block in self.blocks:
            h = block(h)
        return h

    def forward_from(self, h: Tensor, start: int) -> Tensor:
        self._check(start)
        return self.fc(torch.amax(self.top(h), dim=(2, 3)))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_from(self.features(x, self.upto), self.upto)

    def _check(self, upto: int) -> None:
        if upto != self.upto:
            raise ValueError(f"upto must be this model's cut ({self.upto}), got {upto}")
