"""Gradient × input (Shrikumar et al. 2016): each pixel's first-order contribution to the logit."""

from __future__ import annotations

from torch import Tensor

from saliency_core.methods.base import Attribution, Model, sum_abs_over_channels, target_gradient


def gradient_x_input(model: Model, images: Tensor, target: Tensor) -> Attribution:
    """x ⊙ ∂ logit_target / ∂ x; map = Σ over channels of |x ⊙ grad|."""
    grad, _ = target_gradient(model, images, target)
    attributions = grad * images
    return Attribution(attributions, sum_abs_over_channels(attributions))
