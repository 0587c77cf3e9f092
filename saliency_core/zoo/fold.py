"""Batch norm folded into the convolution before it, for inference.

In eval mode a ``BatchNorm2d`` is a per-channel affine map, so ``Conv2d → BatchNorm2d`` equals one
``Conv2d`` with scaled weights and a bias. Folded, a backward pass keeps one activation per pair
instead of two: the normal zoo model's gradient² of 4 photos at 128² saves 77 instead of 111 MB
of tensors for backward, and 48 photos run ~20 % faster. The outputs differ by ~1e-6 (float
rounding); a gradient differs at the few pixels where a ReLU6 sits at a kink within that rounding.
"""

from __future__ import annotations

import torch
from torch import nn


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every eval-mode ``BatchNorm2d`` that directly follows a ``Conv2d`` inside an
    ``nn.Sequential`` (where nothing else reads the convolution's output) into that convolution,
    leaving an ``nn.Identity`` in its place. In place; returns ``model``. Only for inference: the
    folded model can no longer be trained as before."""
    if model.training:
        raise ValueError("model must be in eval mode (model.eval()): training-mode batch norm cannot be folded")
    with torch.no_grad():
        for sequential in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
            names = list(sequential._modules)
            for first, second in zip(names, names[1:]):
                conv, norm = sequential._modules[first], sequential._modules[second]
                if isinstance(conv, nn.Conv2d) and _foldable(norm):
                    _fold(conv, norm)  # type: ignore[arg-type]
                    sequential._modules[second] = nn.Identity()
    return model


def _foldable(norm: nn.Module | None) -> bool:
    return isinstance(norm, nn.BatchNorm2d) and not norm.training and norm.running_mean is not None \
        and norm.running_var is not None


def _fold(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    assert norm.running_mean is not None and norm.running_var is not None
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale
    if norm.bias is not None:
        shift = shift + norm.bias
    bias = shift if conv.bias is None else conv.bias * scale + shift
    requires_grad = conv.weight.requires_grad
    conv.weight = nn.Parameter(conv.weight * scale.reshape(-1, 1, 1, 1), requires_grad=requires_grad)
    conv.bias = nn.Parameter(bias.detach().clone(), requires_grad=requires_grad)
