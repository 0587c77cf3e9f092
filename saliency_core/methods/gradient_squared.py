"""Squared gradient: the explorable's less noisy variant of the vanilla gradient.

Squaring sharpens the contrast between the few large and the many small gradient entries.
"""

from __future__ import annotations

from torch import Tensor

from saliency_core.methods.base import Attribution, Model, target_gradient


def gradient_squared(model: Model, images: Tensor, target: Tensor) -> Attribution:
    """(∂ logit_target / ∂ x)²; map = max over channels of the squared gradient."""
    grad, _ = target_gradient(model, images, target)
    squared = grad.square()
    return Attribution(squared, squared.amax(dim=1))
