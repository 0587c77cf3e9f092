"""Models whose forward pass never ends in practice (a loop of 10^10 steps), for the time-limit
tests of the library, the CLI and the dashboard. Scripted with ``torch.jit.script``: a scripted
loop runs in C++, where Python cannot interrupt it, which is what the limit must handle."""

from __future__ import annotations

import torch
from torch import nn


class LoopsOnImages(nn.Module):
    """Fine on the zero image a loaded model is probed with; a loop of 10^10 steps on real images."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool(x.sum() > 0):
            i = 0
            while i < 10 ** 10:
                i += 1
        return x.mean((2, 3))[:, :2]


class AlwaysLoops(nn.Module):
    """A loop of 10^10 steps on every input, the loader's probe included."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        i = 0
        while i < 10 ** 10:
            i += 1
        return x.mean((2, 3))[:, :2]
