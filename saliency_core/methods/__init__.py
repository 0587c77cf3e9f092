"""Saliency methods behind one entry point, :func:`explain`::

    exp = explain(model, images, "integrated_gradients", steps=32, baseline="blurred")
    exp.maps                            # [B,H,W] display maps
    exp.attributions                    # [B,C,H,W] signed attributions
    exp.extras["completeness_error"]    # [B] |Σ attributions − (f(x) − f(x'))|

Every method is a function ``method(model, images, target, **options) -> Attribution`` in a
module of the same name; :data:`METHODS` lists the names and :data:`REGISTRY` maps them to the
functions. ``explain`` validates the input, resolves the target, adds the model's probabilities
and returns an :class:`Explanation`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from saliency_core.checks import check_images
from saliency_core.data.preprocess import Preprocess
from saliency_core.methods.base import Attribution, Model, Target, check_target, forward
from saliency_core.methods.competitive_gradient_x_input import competitive_gradient_x_input
from saliency_core.methods.grad_cam import grad_cam
from saliency_core.methods.gradient_squared import gradient_squared
from saliency_core.methods.gradient_x_input import gradient_x_input
from saliency_core.methods.guided_backprop import guided_backprop
from saliency_core.methods.integrated_gradients import integrated_gradients
from saliency_core.methods.rectified_gradient import rectified_gradient, rectified_gradient_unbiased
from saliency_core.methods.signed_gradient import signed_gradient
from saliency_core.methods.smoothgrad import smoothgrad, smoothgrad_squared
from saliency_core.methods.vanilla_gradient import vanilla_gradient

__all__ = ["METHODS", "REGISTRY", "Attribution", "Explanation", "explain"]

Method = Callable[..., Attribution]


@dataclass(frozen=True)
class Explanation:
    """One saliency method's result for a batch.

    ``maps`` [B,H,W] float32 is the display map (non-negative, except for occlusion, whose map is
    the signed drop of the target score, and signed_gradient's signed sum over channels);
    ``attributions`` [B,C,H,W] the raw, signed attributions; ``target`` LongTensor[B] the
    explained classes; ``probabilities`` [B,K] the model's softmax on the unmodified images;
    ``extras`` method-specific values (for example ``"completeness_error"`` of Integrated Gradients).
    """

    maps: Tensor
    attributions: Tensor
    target: Tensor
    probabilities: Tensor
    method: str
    extras: dict[str, Any] = field(default_factory=dict)


def _occlusion(model: Model, images: Tensor, target: Tensor, clean_logits: Tensor, **options: Any) -> Attribution:
    """The foundation's occlusion (options: window, stride, baseline, batch_size, progress, mode) on
    the images ``explain`` has checked, measured from the ``clean_logits`` it has computed.

    Imported on first use, since it builds on the compiled kernels; its map is the same for every
    channel, so ``attributions`` repeats it over the channels.
    """
    package = importlib.import_module("saliency_core.methods.occlusion")
    maps = package.occlusion_from_logits(model, images, clean_logits, target, **options)
    return Attribution(maps[:, None].expand(-1, images.shape[1], -1, -1), maps)


REGISTRY: dict[str, Method] = {
    "vanilla_gradient": vanilla_gradient,
    "gradient_squared": gradient_squared,
    "gradient_x_input": gradient_x_input,
    "smoothgrad": smoothgrad,
    "smoothgrad_squared": smoothgrad_squared,
    "integrated_gradients": integrated_gradients,
    "guided_backprop": guided_backprop,
    "grad_cam": grad_cam,
    "competitive_gradient_x_input": competitive_gradient_x_input,
    "rectified_gradient": rectified_gradient,
    "rectified_gradient_unbiased": rectified_gradient_unbiased,
    "signed_gradient": signed_gradient,
    "occlusion": _occlusion,
}
METHODS: tuple[str, ...] = tuple(REGISTRY)


def explain(model: Model, images: Tensor, method: str, target: Target | str = None, *,
            preprocess: Preprocess | None = None, **options: Any) -> Explanation:
    """Explain ``model``'s logits on ``images`` [B,C,H,W] (float32) with saliency ``method``.

    ``target`` is None (each image's predicted class), one class index for all images, or one
    per image. ``options`` go to the method (e.g. ``samples``, ``steps``, ``baseline``,
    ``batch_size``, ``progress``, ``seed``, ``layer``, ``q``). Bad input raises ValueError naming
    the problem. The model's mode and parameters are never changed (``model.eval()`` is the
    caller's business), and no parameter ``.grad`` is accumulated.

    ``preprocess`` (:class:`~saliency_core.data.preprocess.Preprocess`): ``images`` must be its
    ``size`` (framed by ``preprocess.frame``, pixels in [0, 1]); the model is run behind its
    normalisation (``preprocess.wrap``), so attributions stay in pixel space; ``target`` may be a
    class name, and None means ``preprocess.target`` (itself None: the prediction).
    """
    if not isinstance(method, str) or method not in REGISTRY:
        raise ValueError(f"unknown saliency method {method!r}; choose one of {', '.join(METHODS)}")
    if not callable(model):
        raise ValueError(f"model must be a callable torch model, got {type(model).__name__}")
    check_images(images)
    if preprocess is not None:
        model, target = preprocess.apply(model, images, target)
    with torch.no_grad():
        logits = forward(model, images)
    resolved = check_target(target, logits)
    # Occlusion measures its drops from these logits: passing them on runs the model once on the images.
    reused = (logits,) if method == "occlusion" else ()
    try:
        result = REGISTRY[method](model, images, resolved, *reused, **options)
    except TypeError as error:
        if "unexpected keyword argument" in str(error):
            raise ValueError(f"{method}: {error}") from error
        raise
    return Explanation(
        maps=result.maps.detach().float(),
        attributions=result.attributions.detach(),
        target=resolved,
        probabilities=logits.softmax(dim=1),
        method=method,
        extras=result.extras,
    )
