"""Signed gradient: which way each pixel pushes the prediction, ∂ log-odds(target) / ∂ x.

The vanilla gradient's display map keeps magnitudes only, and gradient squared drops the sign
too. This map keeps it: positive where brightening the pixel (all channels together) raises the
target's probability, negative where it lowers it. The score is the target's log-odds,
log p_t − log(1 − p_t), so with two classes (cat, dog) it is logit_t − logit_other and the sign is
exactly "toward the target" vs "toward the other class".

:func:`direction_counts` is the lesson of gradient squared: of the pixels a squared map ranks at
the top, how many push toward the target and how many away from it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from saliency_core.methods.base import Attribution, Model, forward, input_gradient, require_gradient


def signed_gradient(model: Model, images: Tensor, target: Tensor) -> Attribution:
    """∂ log-odds(target) / ∂ images; attributions [B,C,H,W] per channel, map [B,H,W] their sum
    over channels (signed: > 0 brightening the pixel raises P(target), < 0 lowers it)."""
    inputs = images.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = forward(model, inputs)
        if logits.shape[1] < 2:
            raise ValueError("signed_gradient needs a model with at least two classes (it explains log-odds)")
        log_p = logits.float().log_softmax(dim=1)
        t = target.view(-1, 1)
        own = log_p.gather(1, t).squeeze(1)
        rest = log_p.scatter(1, t, float("-inf")).logsumexp(dim=1)  # log(1 − p_t), stable
        score = (own - rest).sum()
        require_gradient(score)
        grad = input_gradient(score, inputs)
    grad = torch.zeros_like(inputs) if grad is None else grad
    return Attribution(grad, grad.sum(dim=1))


class DirectionCounts(NamedTuple):
    """Of the ``top`` pixels ranked highest by a squared map: how many push toward the target
    (signed value > 0), away from it (< 0), or neither (exactly 0)."""

    top: int
    toward: int
    away: int
    zero: int


def direction_counts(squared_map: Tensor, signed_map: Tensor, fraction: float = 0.005) -> DirectionCounts:
    """Split the top ``fraction`` of pixels of ``squared_map`` [H,W] (at least one; ties broken by
    position, row-major first) by the sign of ``signed_map`` [H,W] at the same pixels."""
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be a number in (0, 1], got {fraction!r}")
    squared = torch.as_tensor(squared_map).detach().float().cpu()
    signed = torch.as_tensor(signed_map).detach().float().cpu()
    if squared.ndim != 2 or squared.shape != signed.shape or squared.numel() == 0:
        raise ValueError(f"squared_map and signed_map must be maps [H,W] of the same shape, "
                         f"got {tuple(squared.shape)} and {tuple(signed.shape)}")
    flat = torch.nan_to_num(squared.reshape(-1), nan=float("-inf"))
    k = max(1, math.ceil(fraction * flat.numel()))
    # A stable descending sort: equal values keep row-major order, so the count is reproducible.
    order = torch.sort(flat, descending=True, stable=True).indices[:k]
    values = signed.reshape(-1)[order]
    toward, away = int((values > 0).sum()), int((values < 0).sum())
    return DirectionCounts(k, toward, away, k - toward - away)
