"""Guided backpropagation (Springenberg et al. 2015).

At every ReLU only positive gradients pass where the forward activation was positive:
grad_in = max(grad_out, 0) · 1[input > 0]. The rule is attached per ReLU call through tensor
hooks (see :class:`~saliency_core.methods.base.ReluGradientRule`), so in-place ReLUs and reused
ReLU modules are handled, and the model is left exactly as it was, also after an exception.
"""

from __future__ import annotations

from torch import Tensor

from saliency_core.methods.base import (
    Attribution,
    Model,
    ReluGradientRule,
    max_abs_over_channels,
    require_module,
    target_gradient,
)


class GuidedRelu(ReluGradientRule):
    """Keep only the positive part of the gradient arriving at each ReLU output."""

    def rule(self, activation: Tensor, grad: Tensor) -> Tensor:
        return grad.clamp(min=0)


def guided_backprop(model: Model, images: Tensor, target: Tensor) -> Attribution:
    """Guided-backprop gradient of the target logit; map = max |·| over channels."""
    with GuidedRelu(require_module(model, "guided_backprop")):
        grad, _ = target_gradient(model, images, target)
    return Attribution(grad, max_abs_over_channels(grad))
