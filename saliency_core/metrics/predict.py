"""Batched, gradient-free predictions shared by the model-based metrics."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from saliency_core.checks import check_images, check_logits, check_positive
from saliency_core.methods.base import model_failure

__all__ = ["check_model_images", "predict", "predict_with_classes"]


def check_model_images(images: object, *, unit_range: bool = True, name: str = "images") -> Tensor:
    """``images`` if they are a non-empty, finite RGB batch ``[B,3,H,W]`` of any float dtype, with
    ``unit_range`` in [0, 1] (``checks.check_images``).

    Any float dtype the model takes (float64 or bfloat16 models work; no gradients are taken
    here); integer images have no agreed scale and are refused."""
    return check_images(images, dtypes=None, channels=(3,), unit_range=unit_range, name=name)


def _logits(model: nn.Module, chunk: Tensor) -> Tensor:
    try:
        logits = model(chunk)
    except Exception as error:  # e.g. float64 images into a float32 model, the wrong size, a TorchScript raise
        context = f"the model failed on {chunk.dtype} images of shape {tuple(chunk.shape[1:])}"
        raise model_failure(error, context) from error
    # Only the argmax is used here: integer logits, NaN or Inf are not refused (the methods' forward does).
    return check_logits(logits, chunk.shape[0], finite=False, floating=False)


@torch.no_grad()
def predict_with_classes(model: nn.Module, images: Tensor, batch_size: int = 64, *,
                         unit_range: bool = True) -> tuple[Tensor, int]:
    """(argmax f(x) for each image ``[B]``, K = the model's number of outputs), in chunks of ``batch_size``.

    ``unit_range=False`` for images the library itself took outside [0, 1] (noise)."""
    check_model_images(images, unit_range=unit_range)
    check_positive("batch_size", batch_size)
    logits = [_logits(model, chunk) for chunk in images.split(batch_size)]
    return torch.cat([out.argmax(1).cpu() for out in logits]), int(logits[0].shape[1])


def predict(model: nn.Module, images: Tensor, batch_size: int = 64) -> Tensor:
    """argmax f(x) for each image ``[B]``, in chunks of ``batch_size``."""
    return predict_with_classes(model, images, batch_size)[0]
