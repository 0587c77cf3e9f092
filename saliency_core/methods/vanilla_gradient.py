"""Vanilla gradient (Simonyan et al. 2014): ∂ logit_target / ∂ x.

The display map is the largest gradient magnitude over colour channels, as the PAIR explorable
"Searching for Unintended Biases With Saliency" shows it.
"""

from __future__ import annotations

from torch import Tensor

from saliency_core.methods.base import Attribution, Model, max_abs_over_channels, target_gradient


def vanilla_gradient(model: Model, images: Tensor, target: Tensor) -> Attribution:
    """Gradient of the target logit w.r.t. the pixels; map = max |grad| over channels."""
    grad, _ = target_gradient(model, images, target)
    return Attribution(grad, max_abs_over_channels(grad))
