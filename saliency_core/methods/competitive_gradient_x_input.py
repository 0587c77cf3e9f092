"""Competitive Gradient ⊙ Input, CGI (Gupta & Arora 2019, "A Simple Saliency Method That Passes
the Sanity Checks"), the map the Global Saliency paper (Pfau et al.) builds on.

"Competition for pixels": compute gradient ⊙ input for *every* class k on the logits,
S_k = x ⊙ ∂f_k/∂x, and keep a feature in the target's map only if the target wins it:

    CGI_t = S_t ⊙ 1[S_t > 0] ⊙ 1[S_t ≥ S_k for every class k]

i.e. its contribution to the target is positive and the largest among all classes (a tie with
another class keeps it). By default a feature is one input coordinate (a colour channel of a
pixel), as in the paper's analysis of ReLU nets; with ``per_pixel=True`` the competition is
decided on the channel sums Σ_c S_k (one decision per pixel) and the kept pixels keep their
per-channel S_t.
"""

from __future__ import annotations

import torch
from torch import Tensor

from saliency_core.methods.base import (
    Attribution,
    Model,
    forward,
    input_gradient,
    require_gradient,
    sum_abs_over_channels,
)


def class_gradients_x_input(model: Model, images: Tensor) -> Tensor:
    """x ⊙ ∂f_k/∂x for every class k: [B,K,C,H,W] (one backward pass per class)."""
    inputs = images.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = forward(model, inputs)
        require_gradient(logits)
        classes = logits.shape[1]
        grads = [input_gradient(logits[:, k].sum(), inputs, retain_graph=k < classes - 1) for k in range(classes)]
    zeros = torch.zeros_like(inputs)
    return torch.stack([zeros if g is None else g for g in grads], dim=1) * images.detach()[:, None]


def competitive_gradient_x_input(
    model: Model, images: Tensor, target: Tensor, *, per_pixel: bool = False
) -> Attribution:
    """CGI for the target class; map = Σ over channels of the kept (positive) contributions."""
    scores = class_gradients_x_input(model, images)  # [B,K,C,H,W]
    batch = torch.arange(images.shape[0], device=images.device)
    own = scores[batch, target]  # [B,C,H,W]
    contest = scores.sum(dim=2, keepdim=True) if per_pixel else scores
    mine = contest[batch, target]
    wins = (mine > 0) & (mine >= contest.amax(dim=1))
    attributions = own * wins
    return Attribution(attributions, sum_abs_over_channels(attributions), {"per_pixel": per_pixel})
