"""Batched, gradient-free predictions shared by the model-based metrics."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from saliency_core.metrics._checks import check_labels

__all__ = ["check_images", "check_labels", "num_outputs", "predict"]


def check_images(images: Tensor) -> Tensor:
    """``images`` if they are a non-empty, finite float32 RGB batch [B,3,H,W] (as the methods take)."""
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be RGB [B,3,H,W] tensors, got {shape}")
    if images.dtype != torch.float32:
        raise ValueError(f"images must be float32 in [0, 1], got {images.dtype}")
    if images.numel() == 0:
        raise ValueError(f"images must be non-empty, got shape {tuple(images.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or Inf values")
    return images


def _logits(model: nn.Module, chunk: Tensor) -> Tensor:
    logits = model(chunk)
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[0] != chunk.shape[0]:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"model must return logits [B,K] for a batch of {chunk.shape[0]}, got {shape}")
    return logits


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, batch_size: int = 64) -> Tensor:
    """argmax f(x) for each image ``[B]``, in chunks of ``batch_size``."""
    check_images(images)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return torch.cat([_logits(model, chunk).argmax(1).cpu() for chunk in images.split(batch_size)])


@torch.no_grad()
def num_outputs(model: nn.Module, images: Tensor) -> int:
    """K, the model's number of outputs (classes), from one forward pass of the first image."""
    check_images(images)
    return int(_logits(model, images[:1]).shape[1])
