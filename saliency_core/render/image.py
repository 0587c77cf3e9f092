"""Pictures as arrays: tensors or arrays in any common layout → uint8 RGB [H,W,3], and resizing."""

from __future__ import annotations

from typing import Union

import numpy as np
import torch
from PIL import Image
from torch import Tensor

# What the renderer accepts: a torch tensor (any device, with or without grad) or a numpy array.
ArrayLike = Union[Tensor, np.ndarray]


def as_array(x: ArrayLike) -> np.ndarray:
    """A numpy view of ``x``; tensors are detached and copied to the CPU as float32."""
    if isinstance(x, Tensor):
        return x.detach().float().cpu().numpy()
    return np.asarray(x)


def to_uint8(image: ArrayLike) -> np.ndarray:
    """[3,H,W] or [H,W,3] (or [H,W], [1,H,W], [H,W,1]) float in [0,1], or uint8 → uint8 RGB [H,W,3].

    uint8 pixels pass through unchanged; floats (and bools, and integer 0/1 masks) are read as
    [0, 1]. Other integer values (int64 0..255, uint16, ...) have no agreed scale and are a
    ValueError, as is any other shape (4 channels, 1-D, batches) or an empty picture: never a
    picture of the wrong size or colour.
    """
    if isinstance(image, Tensor):
        image = image.detach().cpu()
        a = image.numpy() if image.dtype == torch.uint8 else as_array(image) if (
            image.dtype.is_floating_point or image.dtype == torch.bool) else image.numpy()
    else:
        a = np.asarray(image)
    if a.dtype.kind in "iu" and a.dtype != np.uint8:
        if a.size and not np.isin(a, (0, 1)).all():
            raise ValueError(f"image must be float in [0, 1] or uint8 (or a 0/1 integer mask), got {a.dtype} "
                             f"values up to {a.max()}; convert it (e.g. image / 65535.0) first")
        a = a.astype(np.float32)
    elif a.dtype.kind not in "fbu":
        raise ValueError(f"image must be float in [0, 1] or uint8, got dtype {a.dtype}")
    shape = tuple(a.shape)
    # Channels first ([C,H,W] from torch) unless the last axis already looks like channels.
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3):
        raise ValueError(f"image must be [3,H,W], [H,W,3], [1,H,W], [H,W,1] or [H,W], got shape {shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"image is empty: shape {shape}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    if a.dtype != np.uint8:
        # NaN → black rather than an undefined cast; +0.5 rounds to the nearest level.
        a = (np.clip(np.nan_to_num(a.astype(np.float32)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(a)


def to_uint8_image(image: ArrayLike) -> np.ndarray:
    """[3,H,W] float in [0,1] → [H,W,3] uint8 (the library's original name for :func:`to_uint8`)."""
    return to_uint8(image)


def resize(a: np.ndarray, hw: tuple[int, int], *, nearest: bool = False) -> np.ndarray:
    """``a`` ([H,W] float map or [H,W,3] uint8 picture) resized to ``hw`` = (height, width).

    Bilinear by default, so a coarse map (e.g. occlusion at stride 8) reads as a smooth field over
    the image; ``nearest`` keeps hard cell edges.
    """
    if a.shape[:2] == hw:
        return a
    mode = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    if a.dtype == np.uint8:
        return np.asarray(Image.fromarray(a).resize((hw[1], hw[0]), mode))
    # PIL's "F" mode keeps float maps float (no quantisation before colouring).
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize((hw[1], hw[0]), mode))
