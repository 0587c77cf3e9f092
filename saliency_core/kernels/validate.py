"""Argument checks of the public kernels: bad input → ValueError naming the argument."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

Pair = tuple[int, int]


def pair(value: int | Sequence[int], name: str) -> Pair:
    """An int or a 2-sequence of ints as a (y, x) pair of positive ints."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, Sequence, Tensor)):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    items = (value, value) if isinstance(value, numbers.Integral) else tuple(value)
    if len(items) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if items[0] <= 0 or items[1] <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return (int(items[0]), int(items[1]))


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


def percent(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"percent must be a number in (0, 100], got {value!r}")
    if not (0.0 < float(value) <= 100.0):  # also rejects NaN
        raise ValueError(f"percent must be in (0, 100], got {value!r}")
    return float(value)


def finite(value: float, name: str) -> float:
    """A finite real number (NaN and ±Inf are errors)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def finite_non_negative(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def integer(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    return int(value)


def index_vector(t: object, name: str, ref: Tensor) -> Tensor:
    """A contiguous int64 vector on ``ref``'s device (the per-row offsets of a gather)."""
    if not isinstance(t, Tensor) or t.dtype != torch.int64 or t.dim() != 1:
        raise ValueError(f"{name} must be an int64 vector")
    same_device(t, ref, name, "table")
    return t.contiguous()
