"""Batched, gradient-free predictions shared by the model-based metrics."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def check_images(images: Tensor) -> Tensor:
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be RGB [B,3,H,W] tensors, got {shape}")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or Inf values")
    return images


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, batch_size: int = 64) -> Tensor:
    """argmax f(x) for each image ``[B]``, in chunks of ``batch_size``."""
    check_images(images)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    out = []
    for chunk in images.split(batch_size):
        logits = model(chunk)
        if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[0] != chunk.shape[0]:
            shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
            raise ValueError(f"model must return logits [B,K] for a batch of {chunk.shape[0]}, got {shape}")
        out.append(logits.argmax(1).cpu())
    return torch.cat(out)


def check_labels(labels: Tensor, batch: int) -> Tensor:
    labels = torch.as_tensor(labels).cpu().long()
    if labels.dim() != 1:
        raise ValueError(f"labels must be 1-D [B], got shape {tuple(labels.shape)}")
    if labels.shape[0] != batch:
        raise ValueError(f"batch sizes differ: images has {batch}, labels has {labels.shape[0]}")
    return labels
