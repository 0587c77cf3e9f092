"""Tiny datasets, a toy model and a counting fake ``explain`` for the audit tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

BOX = (0, 0, 4, 4)  # x0, y0, x1, y1 of the artefact in the 8x8 test images


@dataclass
class FakeExplanation:
    maps: torch.Tensor
    probabilities: torch.Tensor


class CountingExplain:
    """Deterministic maps (brightest pixels where the image's red channel is brightest) and the
    model's softmax; counts calls and images so tests can see what was (re)computed."""

    def __init__(self) -> None:
        self.calls = 0
        self.images = 0

    def __call__(self, model: nn.Module, images: torch.Tensor, method: str) -> FakeExplanation:
        self.calls += 1
        self.images += images.shape[0]
        with torch.no_grad():
            probabilities = model(images).softmax(1)
        return FakeExplanation(images[:, 0].clone(), probabilities)


class MeanColour(nn.Module):
    """Class 1 when the image is redder than green (no parameters needed)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x[:, 0] - x[:, 1]).mean(dim=(1, 2))
        return torch.stack([-score, score], 1)


def make_items(count: int, batch: int = 4) -> list[dict[str, Any]]:
    """Dict batches: odd images have a bright red patch inside BOX ("watermarked"), label = parity."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(count, 3, 8, 8, generator=generator) * 0.5
    labels = torch.arange(count) % 2
    images[labels == 1, 0, :4, :4] = 1.0
    boxes = torch.tensor(BOX, dtype=torch.float32).repeat(count, 1)
    ids = [f"{i:03d}" for i in range(count)]
    return [
        {"ids": ids[s:s + batch], "images": images[s:s + batch], "labels": labels[s:s + batch],
         "boxes": boxes[s:s + batch], "watermarked": (labels[s:s + batch] == 1).tolist()}
        for s in range(0, count, batch)
    ]
