"""The patch-gather kernel (``csrc/gather.cpp``, ``csrc/gather.cu``): the gather/merge step of
incremental occlusion, many window crops of a padded activation map with patches pasted over them.

:func:`gather_patches` validates, then calls :func:`gather_patches_unchecked`; the occlusion engine,
which knows its offsets are in range from its plan, may call the unchecked twin directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from saliency_core.checks import Pair
from saliency_core.kernels import native, reference, validate


def gather_patches(table: Tensor, padded_size: Sequence[int], image: Tensor, y0: Tensor, x0: Tensor,
                   size: Sequence[int], patch: Tensor | None = None,
                   offset: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """Crops of many windows of a padded activation map, each with its recomputed patch pasted
    over it, in one pass (the gather/merge step of incremental occlusion): [rows, C, h, w],
    channels-last in memory (what convolutions take without a copy).

    ``table`` float32 [(B·Hp·Wp), C] contiguous: the padded map [B,C,Hp,Wp] in channels-last order,
    flattened (``padded_size`` = (Hp, Wp)); ``image``, ``y0``, ``x0`` int64 [rows]: each crop's
    image and top-left corner in padded coordinates; ``size`` = (h, w). ``patch`` [rows, C, ph, pw]
    (any strides) is written over crop r with its top-left at (dy[r], dx[r]) = ``offset``, clipped
    to the crop. A crop reaching outside the padded map is a ValueError.
    """
    if not isinstance(table, Tensor) or table.dtype != torch.float32 or table.dim() != 2 or not table.is_contiguous():
        raise ValueError("table must be a contiguous float32 tensor [(B·Hp·Wp), C]")
    hp, wp = (int(v) for v in padded_size)
    h, w = (int(v) for v in size)
    if hp <= 0 or wp <= 0 or table.shape[0] % (hp * wp) != 0:
        raise ValueError(f"table has {table.shape[0]} rows, not a multiple of Hp·Wp = {hp}·{wp}")
    if h < 0 or w < 0:
        raise ValueError(f"size must be non-negative, got {(h, w)}")
    image, y0, x0 = (validate.index_vector(t, name, table) for t, name in ((image, "image"), (y0, "y0"), (x0, "x0")))
    rows = image.numel()
    if y0.numel() != rows or x0.numel() != rows:
        raise ValueError("image, y0 and x0 must have one entry per row")
    shifts: tuple[Tensor, Tensor] | None = None
    if patch is not None:
        if offset is None or len(offset) != 2:
            raise ValueError("a patch needs its offset (dy, dx): two int64 vectors")
        if not isinstance(patch, Tensor) or patch.dtype != torch.float32 or patch.dim() != 4 \
                or patch.shape[0] != rows or patch.shape[1] != table.shape[1]:
            raise ValueError(f"patch must be float32 [rows={rows}, C={table.shape[1]}, ph, pw]")
        validate.same_device(patch, table, "patch", "table")
        dy, dx = (validate.index_vector(t, name, table) for t, name in zip(offset, ("dy", "dx")))
        if dy.numel() != rows or dx.numel() != rows:
            raise ValueError("dy and dx must have one entry per row")
        shifts = (dy, dx)
    ext, on_cuda = native.for_tensor(table)
    # The C++ kernel checks every crop itself; elsewhere check here (one sync on a GPU).
    if (ext is None or on_cuda) and rows and (
            int(y0.min()) < 0 or int(x0.min()) < 0 or int(y0.max()) + h > hp or int(x0.max()) + w > wp
            or int(image.min()) < 0 or int(image.max()) >= table.shape[0] // (hp * wp)):
        raise ValueError("gather_patches: a crop reaches outside the padded map")
    return gather_patches_unchecked(table, (hp, wp), image, y0, x0, (h, w), patch, shifts)


def gather_patches_unchecked(table: Tensor, padded_size: Pair, image: Tensor, y0: Tensor, x0: Tensor,
                             size: Pair, patch: Tensor | None = None,
                             offset: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """:func:`gather_patches` without the Python checks, for a caller that knows its arguments.

    The caller guarantees: ``table`` contiguous float32 [(B·Hp·Wp), C]; ``image``, ``y0``, ``x0``
    (and ``offset``'s dy, dx) contiguous int64 vectors of one entry per row; ``patch`` None (then
    ``offset`` None too) or float32 [rows, C, ph, pw]; every crop inside the padded map; all on
    ``table``'s device. On CPU the C++ kernel still checks every crop (an outside crop stays a
    ValueError); the CUDA kernel reads 0 outside the map, never stray memory; the plain-torch
    fallback does not check.
    """
    hp, wp = padded_size
    h, w = size
    ext, on_cuda = native.for_tensor(table)
    if ext is None:
        return reference.gather_patches(table, (hp, wp), image, y0, x0, (h, w), patch, offset).permute(0, 3, 1, 2)
    rows, channels = image.numel(), table.shape[1]
    out = torch.empty((rows, h, w, channels), dtype=torch.float32, device=table.device)
    dy, dx = offset if patch is not None and offset is not None else (None, None)
    if on_cuda:
        strides = tuple(patch.stride()) if patch is not None else (0, 0, 0, 0)
        ph, pw = (patch.shape[2], patch.shape[3]) if patch is not None else (0, 0)
        with torch.cuda.device(table.device):  # launch on the data's GPU, not the current one
            ext.gather_patches_cuda(native.ptr(table), channels, native.ptr(image), native.ptr(y0), native.ptr(x0),
                                    rows, h, w, hp, wp, table.shape[0] // (hp * wp), native.ptr(patch), ph, pw,
                                    *strides, native.ptr(dy), native.ptr(dx), native.ptr(out), native.stream(table))
    else:
        try:
            ext.gather_patches(native.array(table), (hp, wp), native.array(image), native.array(y0),
                               native.array(x0), native.array(patch), native.array(dy), native.array(dx),
                               native.array(out))
        except IndexError as err:  # the kernel's own crop check: a ValueError like the wrapper's
            raise ValueError(str(err)) from None
    return out.permute(0, 3, 1, 2)
