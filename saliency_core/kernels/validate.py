"""Argument checks only the kernels need: the float32 tensors, devices, window sizes and index
vectors the compiled code takes. Numbers and pairs are checked by :mod:`saliency_core.checks`."""

from __future__ import annotations

import torch
from torch import Tensor

from saliency_core.checks import Pair


def float_tensor(t: object, name: str, ndim: int) -> Tensor:
    """A float32 tensor with `ndim` dimensions; returned contiguous (copied only when needed)."""
    if not isinstance(t, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(t.shape)}")
    if t.dtype != torch.float32:
        raise ValueError(f"{name} must be float32, got {t.dtype}")
    return t.detach().contiguous()


def same_device(t: Tensor, ref: Tensor, name: str, ref_name: str) -> None:
    if t.device != ref.device:
        raise ValueError(f"{name} is on {t.device} but {ref_name} is on {ref.device}")


def window_fits(size: Pair, window: Pair) -> None:
    if window[0] > size[0] or window[1] > size[1]:
        raise ValueError(f"window {window} is larger than the image {size}")


def index_vector(t: object, name: str, ref: Tensor) -> Tensor:
    """A contiguous int64 vector on ``ref``'s device (the per-row offsets of a gather)."""
    if not isinstance(t, Tensor) or t.dtype != torch.int64 or t.dim() != 1:
        raise ValueError(f"{name} must be an int64 vector")
    same_device(t, ref, name, "table")
    return t.contiguous()
