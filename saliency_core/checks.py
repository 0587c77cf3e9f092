"""Input checks of the whole library: bad input is a ValueError that names the argument.

Numbers (``check_integer``, ``check_positive``, ``check_seed``, ``check_finite``, the pairs) take
the argument's name first, as a call reads: ``check_positive("steps", steps)``. Tensors (images,
logits, maps, labels, boxes, masks) come first. ``parse_box`` is the one reader of typed
``x0,y0,x1,y1`` boxes (CLI and dashboard); every box, typed or a tensor row, obeys ``_fit``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, x1/y1 exclusive
Pair = tuple[int, int]  # (y, x): a window, a stride, an image size
Closed = Literal["both", "left", "right", "neither"]

# --------------------------------------------------------------------------- numbers


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_finite(value: object) -> bool:
    if isinstance(value, numbers.Integral):  # math.isfinite overflows on ints beyond float range
        return not isinstance(value, bool)
    return isinstance(value, numbers.Real) and math.isfinite(value)


def check_integer(name: str, value: object) -> int:
    """``value`` as an int: any integer type (numpy's too), never a bool."""
    if not _is_int(value):
        raise ValueError(f"{name} must be an int, got {value!r}")
    return int(value)  # type: ignore[arg-type]


def check_positive(name: str, value: object) -> int:
    """Counts such as ``steps`` and ``batch_size``: an int >= 1."""
    if not _is_int(value) or int(value) < 1:  # type: ignore[arg-type]
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)  # type: ignore[arg-type]


def check_seed(seed: object) -> int | None:
    """``seed`` must be None or an integer that ``torch.Generator.manual_seed`` accepts."""
    if seed is None:
        return None
    if not _is_int(seed):
        raise ValueError(f"seed must be an integer (or None), got {seed!r}")
    if not -(2 ** 63) <= int(seed) < 2 ** 64:  # type: ignore[arg-type]
        raise ValueError(f"seed must fit in 64 bits, got {seed!r}")
    return int(seed)  # type: ignore[arg-type]


def check_finite(name: str, value: object, *, low: float | None = None, high: float | None = None,
                 closed: Closed = "both") -> float:
    """``value`` as a float: a finite real number (not a bool), between ``low`` and ``high`` where
    given; ``closed`` says which of those ends belong to the range, as in ``pandas.Interval``."""
    left, right = closed in ("both", "left"), closed in ("both", "right")
    ok = _is_finite(value)
    if ok and low is not None:
        ok = value >= low if left else value > low  # type: ignore[operator]
    if ok and high is not None:
        ok = value <= high if right else value < high  # type: ignore[operator]
    if not ok:
        if low is not None and high is not None:
            span = f" in {'[' if left else '('}{low:g}, {high:g}{']' if right else ')'}"
        elif low is not None:
            span = f" {'>=' if left else '>'} {low:g}"
        elif high is not None:
            span = f" {'<=' if right else '<'} {high:g}"
        else:
            span = ""
        raise ValueError(f"{name} must be a finite number{span}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_int_pair(name: str, value: object) -> tuple[int, int]:
    """An int or two ints (a window, a stride) as a (y, x) pair, both >= 1."""
    if _is_int(value):
        items: tuple[object, ...] = (value, value)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        items = tuple(value)
    else:
        items = ()
    if len(items) != 2 or not all(_is_int(v) for v in items):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    y, x = int(items[0]), int(items[1])  # type: ignore[call-overload]
    if y < 1 or x < 1:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return y, x


def int_pair(value: int | Sequence[int]) -> Pair:
    """An int or two ints as a (y, x) pair, not checked: for values already valid (a checked window,
    a torch layer's ``kernel_size`` or ``padding``). What a user typed goes through ``check_int_pair``."""
    if isinstance(value, Sequence):
        return int(value[0]), int(value[1])
    return int(value), int(value)  # type: ignore[arg-type]


def check_float_pair(name: str, value: object) -> tuple[float, float]:
    """Two finite numbers, e.g. ``stats=(mu, sigma)``."""
    items = tuple(value) if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str) else ()
    if len(items) != 2 or not all(_is_finite(v) for v in items):
        raise ValueError(f"{name} must be a pair of finite numbers, got {value!r}")
    return float(items[0]), float(items[1])


def check_batch(name_a: str, a: int, name_b: str, b: int) -> None:
    """Two inputs that describe the same images must have the same batch size."""
    if a != b:
        raise ValueError(f"batch sizes differ: {name_a} has {a}, {name_b} has {b}")


# --------------------------------------------------------------------------- model input and output


def _layout(channels: Collection[int] | None) -> str:
    if channels is not None and tuple(channels) == (3,):
        return "RGB [B,3,H,W]"
    return "[B,C,H,W]" if channels is None else f"[B,C,H,W] with C in {sorted(channels)}"


# How far outside [0, 1] pixel values may stray and still pass ``unit_range``: resampling and
# float16/bfloat16 round trips, not a different scale.
RANGE_TOLERANCE = 1e-3


def check_images(images: object, *, dtypes: Collection[torch.dtype] | None = (torch.float32,),
                 channels: Collection[int] | None = None, finite: bool = True, unit_range: bool = True,
                 allow_empty: bool = False, name: str = "images") -> Tensor:
    """``images`` if they are a 4-D ``[B,C,H,W]`` tensor of one of ``dtypes`` (None: any floating
    point) with a channel count in ``channels`` (None: any); raise ValueError naming the problem.

    Four channels are refused with an RGBA hint unless ``channels`` lists 4. ``finite`` refuses NaN
    and Inf; ``unit_range`` refuses values outside [0, 1] by more than :data:`RANGE_TOLERANCE`,
    saying what was probably meant (0..255 pixels, normalised images). Both take one ``aminmax``.
    An empty batch or image is refused unless ``allow_empty``.
    """
    if not isinstance(images, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    layout, shape = _layout(channels), tuple(images.shape)
    if images.dim() != 4:
        raise ValueError(f"{name} must be 4-D {layout}, got {images.dim()}-D shape {shape}")
    count = images.shape[1]
    if count == 4 and (channels is None or 4 not in channels):
        raise ValueError(f"{name} have 4 channels (RGBA?): drop the alpha channel and pass RGB [B,3,H,W]")
    if channels is not None and count not in channels:
        raise ValueError(f"{name} must be {layout}, got shape {shape}")
    if dtypes is None and not images.is_floating_point():  # uint8 0..255 has no agreed [0, 1] scale
        raise ValueError(f"{name} must be floating-point in [0, 1], got {images.dtype}")
    if dtypes is not None and images.dtype not in dtypes:
        allowed = " or ".join(str(d).removeprefix("torch.") for d in dtypes)
        raise ValueError(f"{name} must be {allowed}, got {images.dtype}")
    if images.numel() == 0:
        if not allow_empty:
            raise ValueError(f"{name} must be non-empty, got shape {shape}")
        return images
    if finite or unit_range:
        low, high = torch.stack(torch.aminmax(images.detach())).tolist()  # NaN anywhere: both NaN
        if finite and not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"{name} contain NaN or Inf values")
        if unit_range:
            _check_unit_range(low, high, name)
    return images


def _check_unit_range(low: float, high: float, name: str) -> None:
    """Pixel values (their min and max) in [0, 1] up to the tolerance; otherwise say what was meant."""
    if low < -RANGE_TOLERANCE:  # normalised images hold values above 1 too: this hint comes first
        raise ValueError(f"{name} must be in [0, 1]: negative values — pass unnormalised pixels, "
                         "the model normalises")
    if high > 2:  # far beyond rounding: 0..255 pixels
        raise ValueError(f"{name} must be in [0, 1]: values up to {high:.4g} — divide by 255")
    if high > 1 + RANGE_TOLERANCE:
        raise ValueError(f"{name} must be in [0, 1]: values up to {high:.4g} — clamp them to [0, 1]")


def check_logits(logits: object, batch: int, *, finite: bool = True, floating: bool = True) -> Tensor:
    """``logits`` if the model returned a ``[batch, K]`` tensor, K >= 1 (with ``floating``, of a real
    floating-point dtype: integers carry no gradient and no softmax; with ``finite``, no NaN or
    Inf); raise ValueError naming the problem."""
    if not isinstance(logits, Tensor):
        raise ValueError(f"the model must return a logits tensor [B,K], got {type(logits).__name__}")
    if logits.dim() != 2 or logits.shape[0] != batch or logits.shape[1] < 1:
        raise ValueError(
            f"the model must return logits of shape [B,K] = [{batch},K], got shape {tuple(logits.shape)}"
        )
    if floating and not logits.is_floating_point():
        kind = "complex" if logits.is_complex() else "boolean" if logits.dtype == torch.bool else "integer"
        raise ValueError(f"the model returns {kind} logits ({str(logits.dtype).removeprefix('torch.')}); "
                         "saliency needs float logits")
    if finite and not bool(torch.isfinite(logits).all()):
        raise ValueError("the model returned NaN or Inf logits")
    return logits


def check_labels(labels: object, batch: int, num_classes: int | None = None,
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


# --------------------------------------------------------------------------- saliency maps and regions


def check_maps(maps: object, name: str = "maps") -> Tensor:
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


def _fit(box: Box, what: str, width: int, height: int, clip: bool, frame: str) -> Box:
    """The rule for every box: inside the ``width`` x ``height`` frame (with ``clip``: overlapping
    it, then clipped to it) and holding at least one pixel. ``what`` names the box in messages."""
    x0, y0, x1, y1 = box
    if clip:
        outside = x0 >= width or y0 >= height or x1 <= 0 or y1 <= 0
        need = "no pixel of it is inside"
    else:
        outside = x0 < 0 or y0 < 0 or x1 > width or y1 > height
        need = f"need 0 <= x0 < x1 <= {width} and 0 <= y0 < y1 <= {height}"
    if outside:
        raise ValueError(f"{what} lies outside the {width}x{height} {frame}: {need}")
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"{what} is empty: need x1 > x0 and y1 > y0")
    if clip:
        return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    return box


def _floored(box: object, name: str) -> tuple[Box, str]:
    """Four finite numbers as floored ints (as the metrics and the top_percent kernel read box
    coordinates; Python ints, so huge values cannot wrap around) and as text for messages."""
    values = tuple(box) if isinstance(box, (Sequence, np.ndarray)) and not isinstance(box, str) else ()
    if len(values) != 4 or not all(_is_finite(v) for v in values):
        raise ValueError(f"{name} must be four finite numbers x0,y0,x1,y1, got {box!r}")
    shown = ",".join(str(v) if _is_int(v) else f"{v:g}" for v in values)
    return tuple(math.floor(v) for v in values), shown  # type: ignore[return-value, arg-type]


def check_box(box: Sequence[float], *, width: int, height: int, clip: bool = False,
              name: str = "box", frame: str = "image") -> Box:
    """Four finite numbers x0,y0,x1,y1 (x1/y1 exclusive, fractions floored) as ints, obeying
    ``_fit`` (``name`` and ``frame`` word the messages)."""
    floored, shown = _floored(box, name)
    return _fit(floored, f"{name} {shown}", width, height, clip, frame)


def parse_box(text: str, *, width: int, height: int, integers: bool = True, clip: bool = False,
              name: str = "region", frame: str = "frame") -> Box:
    """A typed box ``"x0,y0,x1,y1"`` as ints: four integers (with ``integers=False``, any finite
    numbers, floored), a box with at least one pixel inside the ``width`` x ``height`` ``frame``
    (with ``clip``: overlapping it, clipped to it). Anything else is a one-line ValueError that
    starts with ``name`` (e.g. ``--region``) and quotes the text."""
    kind = "integers" if integers else "finite numbers"
    try:
        values = [int(part) if integers else float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(_is_finite(v) for v in values):
        raise ValueError(f"{name} must be four {kind} x0,y0,x1,y1, got {text!r}")
    floored = tuple(math.floor(v) for v in values)
    return _fit(floored, f"{name} {text}", width, height, clip, frame)  # type: ignore[arg-type]


def check_boxes(boxes: Tensor, *, height: int, width: int, clip: bool = False) -> Tensor:
    """Boxes ``[B,4]`` (x0,y0,x1,y1, exclusive; floats floored) as int64, on their own device.

    Each box obeys ``_fit`` in the ``width`` x ``height`` image (``clip``: partly outside is
    clipped); a bad box is a ``ValueError`` naming the box and its image.
    """
    if boxes.dtype == torch.bool or boxes.is_complex():
        raise ValueError(f"boxes must be numbers (x0,y0,x1,y1), got {boxes.dtype}")
    if boxes.is_floating_point() and not bool(torch.isfinite(boxes).all()):
        raise ValueError("boxes contain NaN or Inf values")
    fitted = []
    for i, row in enumerate(boxes.detach().cpu().tolist()):
        floored, shown = _floored(row, "boxes")
        fitted.append(_fit(floored, f"box {shown} of image {i}", width, height, clip, "image"))
    return torch.tensor(fitted, dtype=torch.long, device=boxes.device).view(-1, 4)


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
        x0, y0, x1, y1 = check_boxes(region, height=height, width=width).unbind(1)
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
