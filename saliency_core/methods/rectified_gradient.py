"""Rectified Gradient (Kim et al. 2019, "Why are saliency maps noisy?") and its unbiased variant.

Rule, at every ``nn.ReLU`` with output a and incoming gradient R = ∂y/∂a (per image):
importance s = a ⊙ R, τ = the ``q``-th percentile of s over the whole layer (linear
interpolation, as ``torch.quantile``), and the propagated gradient is R ⊙ 1[s ≥ τ] ⊙ 1[a > 0],
the last factor being the ReLU's own derivative, which autograd still applies. With the
paper's default q = 98 only the 2% most important units of each layer pass. This is the
paper's rule R ⊙ 1[s > τ] whenever τ ≥ 0 (then s > τ implies a > 0, and units with s = τ = 0
carry no gradient); we keep the ReLU gate so that a negative τ never revives inactive units,
and use ≥ so that q = 0 is exactly the plain gradient.

``rectified_gradient`` multiplies the rectified gradient by the input, as the paper does.
``rectified_gradient_unbiased`` omits that multiplication: Brocki & Chung (2020, "Input Bias in
Rectified Gradients and Modified Saliency Maps") show that the multiplication hides dark but
relevant regions (an input/brightness bias), and that removing it removes the bias.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from saliency_core.methods.base import (
    Attribution,
    Model,
    ReluGradientRule,
    require_module,
    sum_abs_over_channels,
    target_gradient,
)


class RectifiedRelu(ReluGradientRule):
    """Pass the gradient only at units whose importance a ⊙ R reaches the layer's q-th percentile."""

    def __init__(self, model: nn.Module, q: float) -> None:
        super().__init__(model)
        self.q = q

    def rule(self, activation: Tensor, grad: Tensor) -> Tensor:
        score = (activation * grad).flatten(1)
        return grad * (score >= percentile(score, self.q)).view_as(grad)


def percentile(values: Tensor, q: float) -> Tensor:
    """Per-row q-th percentile of [N,M] with linear interpolation, as ``torch.quantile``.

    Built on ``kthvalue`` because ``torch.quantile`` refuses rows of more than 2**24 values
    (a 64-channel layer at 512x512 already has more).
    """
    position = q / 100 * (values.shape[1] - 1)
    low, high = math.floor(position), math.ceil(position)
    below = values.kthvalue(low + 1, dim=1, keepdim=True).values
    above = values.kthvalue(high + 1, dim=1, keepdim=True).values if high != low else below
    return below + (position - low) * (above - below)


def rectified_gradient_of(model: Model, images: Tensor, target: Tensor, q: float) -> Tensor:
    """The rectified gradient ∂y/∂x under the RectGrad propagation rule (not multiplied by x)."""
    if not 0 <= q <= 100:
        raise ValueError(f"q must be a percentile in [0, 100], got {q!r}")
    with RectifiedRelu(require_module(model, "rectified_gradient"), float(q)):
        grad, _ = target_gradient(model, images, target)
    return grad


def rectified_gradient(model: Model, images: Tensor, target: Tensor, *, q: float = 98.0) -> Attribution:
    """RectGrad as published: rectified gradient ⊙ input; map = Σ over channels of |·|."""
    attributions = rectified_gradient_of(model, images, target, q) * images
    return Attribution(attributions, sum_abs_over_channels(attributions), {"q": q})


def rectified_gradient_unbiased(
    model: Model, images: Tensor, target: Tensor, *, q: float = 98.0
) -> Attribution:
    """RectGrad without the final multiplication by the input (Brocki & Chung's fix)."""
    attributions = rectified_gradient_of(model, images, target, q)
    return Attribution(attributions, sum_abs_over_channels(attributions), {"q": q})
