"""Input validation shared by the metrics: bad input is a ``ValueError`` that names the problem."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def check_maps(maps: Tensor, name: str = "maps") -> Tensor:
    """Return ``maps`` as float32 ``[B,H,W]``; NaN or Inf anywhere is an error.

    Non-finite saliency has no meaningful rank or mean, and silently dropping it would bias every
    statistic toward the pixels that happened to be finite, so the metrics refuse it.
    """
    if not isinstance(maps, Tensor):
        maps = torch.as_tensor(maps)
    if maps.dim() != 3:
        raise ValueError(f"{name} must have shape [B,H,W], got {tuple(maps.shape)}")
    if maps.shape[0] == 0 or maps.shape[1] == 0 or maps.shape[2] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(maps.shape)}")
    maps = maps.detach().float()
    if torch.isnan(maps).any():
        raise ValueError(f"{name} contain NaN values")
    if torch.isinf(maps).any():
        raise ValueError(f"{name} contain Inf values")
    return maps


def check_batch(name_a: str, a: int, name_b: str, b: int) -> None:
    if a != b:
        raise ValueError(f"batch sizes differ: {name_a} has {a}, {name_b} has {b}")


def check_labels(labels: Tensor, batch: int, num_classes: int | None = None,
                 classes: str = "the model's outputs") -> Tensor:
    """``labels`` as int64 ``[B]`` on the CPU: whole numbers, in [0, ``num_classes``) when given.

    ``classes`` says where ``num_classes`` comes from, for the error message.
    """
    if not isinstance(labels, Tensor):
        array = np.asarray(labels)
        if array.dtype == object:  # e.g. a pandas column of Python ints
            try:
                array = array.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError("labels must be integer class indices, got non-numeric values") from None
        labels = torch.as_tensor(array)
    labels = labels.detach()
    if labels.dim() != 1:
        raise ValueError(f"labels must be 1-D [B], got shape {tuple(labels.shape)}")
    if labels.shape[0] != batch:
        raise ValueError(f"batch sizes differ: images has {batch}, labels has {labels.shape[0]}")
    if labels.is_complex() or (labels.is_floating_point()
                                 and not bool((labels.isfinite() & (labels == labels.round())).all())):
        raise ValueError("labels must be integer class indices, got non-integer values")
    labels = labels.cpu().long()
    if num_classes is not None and labels.numel():
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= num_classes:
            raise ValueError(f"labels must be class indices in [0, {num_classes}) ({num_classes} = {classes}), "
                             f"got {low if low < 0 else high}")
    return labels


def region_masks(region: Tensor, batch: int, height: int, width: int) -> Tensor:
    """Boolean masks ``[B,H,W]`` from boxes ``[B,4]`` / ``[4]`` (x0,y0,x1,y1, exclusive) or masks.

    A box must lie inside the image and contain at least one pixel; a mask must select at least
    one pixel per image. Anything else is a ``ValueError`` naming the image.
    """
    region = torch.as_tensor(region).detach().cpu()
    if region.dim() == 1 and region.numel() == 4:
        region = region.expand(batch, 4)
    if region.dim() == 2 and tuple(region.shape) == (height, width) and height != batch:
        region = region.expand(batch, height, width)  # one mask for the whole batch
    if region.dim() == 2 and region.shape[1] == 4:
        check_batch("maps", batch, "boxes", region.shape[0])
        x0, y0, x1, y1 = check_boxes(region, height, width).unbind(1)
        xs = torch.arange(width)
        ys = torch.arange(height)
        inside_x = (xs[None, :] >= x0[:, None]) & (xs[None, :] < x1[:, None])  # [B,W]
        inside_y = (ys[None, :] >= y0[:, None]) & (ys[None, :] < y1[:, None])  # [B,H]
        return inside_y[:, :, None] & inside_x[:, None, :]
    if region.dim() == 3:
        check_batch("maps", batch, "masks", region.shape[0])
        if region.shape[1:] != (height, width):
            raise ValueError(
                f"masks have size {tuple(region.shape[1:])} but maps have size {(height, width)}"
            )
        return check_masks(region)
    raise ValueError(
        f"region must be boxes [B,4] (x0,y0,x1,y1) or masks [B,H,W], got shape {tuple(region.shape)}"
    )


def check_boxes(boxes: Tensor, height: int, width: int, *, clip: bool = False) -> Tensor:
    """Boxes ``[B,4]`` (x0,y0,x1,y1, exclusive; floats floored) as int64, on their own device.

    Each box must contain at least one pixel and lie inside the ``width`` x ``height`` image; with
    ``clip`` a box partly outside is clipped to the image instead, and only a box with no pixel
    inside it is an error. Bad boxes are a ``ValueError`` naming the box and its image.
    """
    if boxes.dtype == torch.bool or boxes.is_complex():
        raise ValueError(f"boxes must be numbers (x0,y0,x1,y1), got {boxes.dtype}")
    if boxes.is_floating_point() and not bool(torch.isfinite(boxes).all()):
        raise ValueError("boxes contain NaN or Inf values")
    if boxes.is_floating_point():  # keep huge coordinates from wrapping around in int64
        boxes = boxes.detach().double().clamp(-1, max(height, width) + 1)
    boxes = boxes.detach().floor().long()  # as the top_percent kernel
    x0, y0, x1, y1 = boxes.unbind(1)
    if clip:
        bad = (x0 >= width) | (y0 >= height) | (x1 <= 0) | (y1 <= 0)  # no overlap with the image
    else:
        bad = (x0 < 0) | (y0 < 0) | (x1 > width) | (y1 > height)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise ValueError(f"box {boxes[i].tolist()} of image {i} lies outside the {width}x{height} image")
    empty = (x1 <= x0) | (y1 <= y0)
    if bool(empty.any()):
        i = int(empty.nonzero()[0])
        raise ValueError(f"box {boxes[i].tolist()} of image {i} is empty")
    if clip:
        limit = torch.tensor([width, height, width, height], device=boxes.device)
        boxes = torch.minimum(boxes.clamp(min=0), limit)
    return boxes


def check_masks(masks: Tensor) -> Tensor:
    """Boolean masks ``[B,H,W]`` (non-zero = inside, as the top_percent kernel).

    NaN or Inf weights, or a mask that selects no pixel of its image, is a ``ValueError``.
    """
    masks = masks.detach()
    if masks.is_floating_point() and not bool(torch.isfinite(masks).all()):
        raise ValueError("masks contain NaN or Inf values")
    selected = masks != 0
    empty = ~selected.flatten(1).any(1)
    if bool(empty.any()):
        raise ValueError(f"mask of image {int(empty.nonzero()[0])} selects no pixel")
    return selected
