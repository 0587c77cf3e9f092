"""Batched, gradient-free predictions shared by the model-based metrics."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from saliency_core.errors import one_line_error

from saliency_core.metrics._checks import check_labels

__all__ = ["check_images", "check_labels", "predict", "predict_with_classes"]


def check_images(images: Tensor) -> Tensor:
    """``images`` if they are a non-empty, finite floating-point RGB batch [B,3,H,W].

    Any float dtype the model takes (float64 or bfloat16 models work; no gradients are taken
    here); integer images have no agreed scale and are refused."""
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be RGB [B,3,H,W] tensors, got {shape}")
    if not images.is_floating_point():
        raise ValueError(f"images must be floating-point in [0, 1], got {images.dtype}")
    if images.numel() == 0:
        raise ValueError(f"images must be non-empty, got shape {tuple(images.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or Inf values")
    return images


def _logits(model: nn.Module, chunk: Tensor) -> Tensor:
    try:
        logits = model(chunk)
    except RuntimeError as error:  # e.g. float64 images into a float32 model, or the wrong size
        raise ValueError(f"the model failed on {chunk.dtype} images of shape {tuple(chunk.shape[1:])}: "
                         f"{one_line_error(error, 300)}") from error
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[0] != chunk.shape[0]:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"model must return logits [B,K] for a batch of {chunk.shape[0]}, got {shape}")
    return logits


@torch.no_grad()
def predict_with_classes(model: nn.Module, images: Tensor, batch_size: int = 64) -> tuple[Tensor, int]:
    """(argmax f(x) for each image ``[B]``, K = the model's number of outputs), in chunks of ``batch_size``."""
    check_images(images)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    logits = [_logits(model, chunk) for chunk in images.split(batch_size)]
    return torch.cat([out.argmax(1).cpu() for out in logits]), int(logits[0].shape[1])


def predict(model: nn.Module, images: Tensor, batch_size: int = 64) -> Tensor:
    """argmax f(x) for each image ``[B]``, in chunks of ``batch_size``."""
    return predict_with_classes(model, images, batch_size)[0]
