"""How a user's model wants its photos: input size, resize policy, normalisation, class names.

One frozen :class:`Preprocess` describes it; the default is the demo models' frame (128 pixels,
shorter side resized then centre crop, no normalisation)::

    pre = Preprocess(size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD, classes=("cat", "dog"), target="dog")
    x = pre.frame(photo)                  # [3,224,224] in [0, 1]: what every method perturbs
    model = pre.wrap(user_model)          # Normalized(user_model, mean, std): takes [0, 1] pixels
    exp = explain(model, x[None], "smoothgrad", target=pre.class_index())
    on_photo = pre.to_original(exp.maps[0], pre.photo_size(photo))   # [H,W], NaN outside the crop

**Normalisation is applied outside the user's model** (:class:`Normalized`): saliency methods see
and perturb pixels in [0, 1] (noise, baselines, occlusion patches are in pixel space) and the
gradients are with respect to pixels: d/dx f((x - m) / s) = f'((x - m) / s) / s.

**Geometry.** ``resize="crop"`` (default) resizes the shorter side to ``size`` and keeps the centre
square (as :func:`saliency_core.data.frame.frame_array`); ``"stretch"`` resizes both sides to
``size``, whatever the aspect ratio. Both work on the upright photo (EXIF orientation applied):
``original_size`` below is that photo's (width, height), :meth:`Preprocess.photo_size`. A frame
pixel covers the photo pixels whose centres fall in it; :meth:`Preprocess.to_original` maps a
frame-resolution map back onto the photo (the inverse of the crop/stretch) and fills the photo
pixels the model never saw (cut off by the crop) with ``fill`` (NaN by default);
:meth:`Preprocess.to_frame_box` maps a box in photo pixels into the frame.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor, nn

from saliency_core.checks import check_finite, check_integer
from saliency_core.data.frame import FRAME, check_aspect, check_frame_size, frame_array, to_rgb

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "Normalized", "Preprocess", "parse_normalize"]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
Resize = Literal["crop", "stretch"]


class Normalized(nn.Module):
    """``model`` behind a per-channel normalisation: ``forward(x) = model((x - mean) / std)``.

    Its input is pixels in [0, 1] ([B,3,H,W]); ``mean`` and ``std`` are three numbers each (buffers,
    so ``.to(device)`` moves them). The wrapped model is ``.model``; its mode is the wrapper's.
    """

    def __init__(self, model: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        mean_t, std_t = _channels("mean", mean), _channels("std", std, positive=True)
        self.model = model
        self.register_buffer("mean", torch.tensor(mean_t, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std_t, dtype=torch.float32).view(1, 3, 1, 1))
        self.classes = getattr(model, "classes", None)  # a loaded user model's names travel with it

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"normalised model: images must be [B,3,H,W], got shape {tuple(images.shape)}")
        mean, std = self.mean.to(images.dtype), self.std.to(images.dtype)
        return self.model((images - mean) / std)

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


def _channels(name: str, values: object, *, positive: bool = False) -> tuple[float, float, float]:
    """Three finite numbers (``positive``: each > 0) as floats; a ValueError naming ``name``."""
    if isinstance(values, Tensor):
        values = values.flatten().tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)) or len(values) != 3:
        raise ValueError(f"{name} must be three numbers (one per RGB channel), got {values!r}")
    out = tuple(check_finite(f"{name}[{i}]", v) for i, v in enumerate(values))
    if positive and any(v <= 0 for v in out):
        raise ValueError(f"{name} must be three positive numbers, got {list(values)!r}")
    return out  # type: ignore[return-value]


def parse_normalize(text: str, name: str = "--normalize") -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """``"none"`` -> None; ``"imagenet"`` -> (IMAGENET_MEAN, IMAGENET_STD); ``"M,M,M/S,S,S"`` (three
    means, a slash, three standard deviations, in [0, 1] pixel units) -> (mean, std). Anything
    else is a one-line ValueError starting with ``name``."""
    word = text.strip().lower()
    if word == "none":
        return None
    if word == "imagenet":
        return IMAGENET_MEAN, IMAGENET_STD
    means, slash, stds = text.partition("/")
    try:
        mean = tuple(float(v) for v in means.split(","))
        std = tuple(float(v) for v in stds.split(","))
    except ValueError:
        mean = std = ()
    if not slash or len(mean) != 3 or len(std) != 3:
        raise ValueError(f"{name} must be none, imagenet or MEAN,MEAN,MEAN/STD,STD,STD (pixels in [0, 1], "
                         f"e.g. 0.5,0.5,0.5/0.25,0.25,0.25), got {text!r}")
    try:
        return _channels(f"{name} mean", mean), _channels(f"{name} std", std, positive=True)
    except ValueError as error:
        raise ValueError(f"{error} (in {text!r})") from None


@dataclass(frozen=True)
class Preprocess:
    """A model's preprocessing; the default is the demo models' (128, crop, no normalisation).

    ``size``: the square input, 1 to ``MAX_FRAME`` pixels (e.g. 224 or 299). ``resize``: ``"crop"``
    (shorter side to ``size``, centre crop) or ``"stretch"`` (both sides to ``size``). ``mean`` /
    ``std``: both None (no normalisation) or three numbers each, in [0, 1] pixel units, applied by
    :meth:`wrap` outside the model. ``classes``: the name of each output index (index i is
    ``classes[i]``), or None. ``target``: the class of interest, an output index or a name in
    ``classes`` (None: each image's prediction). Bad values raise ValueError naming the field.
    """

    size: int = FRAME
    resize: Resize = "crop"
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    classes: tuple[str, ...] | None = None
    target: int | str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", check_frame_size(self.size, "size"))
        if self.resize not in ("crop", "stretch"):
            raise ValueError(f"resize must be 'crop' or 'stretch', got {self.resize!r}")
        if (self.mean is None) != (self.std is None):
            raise ValueError("mean and std go together: give both (three numbers each) or neither")
        if self.mean is not None:
            object.__setattr__(self, "mean", _channels("mean", self.mean))
            object.__setattr__(self, "std", _channels("std", self.std, positive=True))
        if self.classes is not None:
            if isinstance(self.classes, str) or not isinstance(self.classes, Sequence):
                raise ValueError(f"classes must be a sequence of names, got {self.classes!r}")
            names = tuple(self.classes)
            if not names or not all(isinstance(c, str) and c for c in names) or len(set(names)) != len(names):
                raise ValueError(f"classes must be distinct non-empty names, got {list(names)!r}")
            object.__setattr__(self, "classes", names)
        if self.target is not None:
            object.__setattr__(self, "target", self.class_index(self.target))

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def imagenet(cls, size: int = 224, **fields: object) -> Preprocess:
        """ImageNet's convention: ``size`` (224), crop, ImageNet mean and std."""
        return cls(size=size, mean=IMAGENET_MEAN, std=IMAGENET_STD, **fields)  # type: ignore[arg-type]

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """(mean, std), or None without normalisation."""
        return None if self.mean is None else (self.mean, self.std)  # type: ignore[return-value]

    # ------------------------------------------------------------------ classes
    def class_index(self, target: int | str | None = None) -> int | None:
        """The output index of ``target`` (an index, a name in ``classes``, or a digit string such as
        ``"3"``); None: this object's ``target`` (itself None: the prediction). Checked against
        ``classes`` when known; otherwise the model checks the range when it runs."""
        if target is None:
            return self.target  # type: ignore[return-value]  # resolved in __post_init__
        if isinstance(target, str):
            if self.classes is not None and target in self.classes:
                return self.classes.index(target)
            if target.strip().lstrip("+").isdigit():
                return self.class_index(int(target))
            known = f"; the classes are {', '.join(self.classes)}" if self.classes else " (no class names given)"
            raise ValueError(f"class {target!r} is neither a class name nor an output index{known}")
        if isinstance(target, bool) or not isinstance(target, numbers.Integral):
            raise ValueError(f"class must be an output index or a class name, got {target!r}")
        index = check_integer("class", target)
        if index < 0 or (self.classes is not None and index >= len(self.classes)):
            top = f" (0 to {len(self.classes) - 1}: {', '.join(self.classes)})" if self.classes else ""
            raise ValueError(f"class {index} is not an output index of the model{top}")
        return index

    def class_name(self, index: int) -> str:
        """``classes[index]``, or the index as text when there are no names."""
        return self.classes[index] if self.classes is not None and 0 <= index < len(self.classes) else str(index)

    # ------------------------------------------------------------------ the model
    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` with this normalisation in front (:class:`Normalized`), taking [0, 1] pixels;
        ``model`` itself without normalisation."""
        return model if self.mean is None else Normalized(model, self.mean, self.std)  # type: ignore[arg-type]

    def check_images(self, images: Tensor, name: str = "images") -> None:
        """A ValueError (rather than the model's "mat1 and mat2 shapes cannot be multiplied") when
        ``images`` [B,C,H,W] are not ``size`` x ``size``."""
        if isinstance(images, Tensor) and images.dim() == 4 and tuple(images.shape[2:]) != (self.size, self.size):
            h, w = images.shape[2:]
            raise ValueError(f"{name} are {w}x{h} but the model takes {self.size}x{self.size}: frame the photos "
                             f"with Preprocess(size={self.size}).frame (or pass the model's input size)")

    def apply(self, model: nn.Module, images: Tensor, target: object = None) -> tuple[nn.Module, object]:
        """What ``explain(..., preprocess=self)`` does first: ``images`` checked to be ``size``, the
        model wrapped (:meth:`wrap`), and ``target`` resolved: None -> ``self.target``, a name or
        an index -> its output index (per-image sequences and tensors pass unchanged)."""
        self.check_images(images)
        if target is None or isinstance(target, (str, numbers.Integral)):
            target = self.class_index(target)  # type: ignore[arg-type]
        return self.wrap(model), target

    # ------------------------------------------------------------------ photos -> frames
    @staticmethod
    def photo(image: Image.Image) -> np.ndarray:
        """The upright photo every geometry here refers to: ``uint8 [H,W,3]`` RGB, EXIF-transposed."""
        check_aspect(*image.size)
        return np.asarray(to_rgb(ImageOps.exif_transpose(image)))

    @staticmethod
    def photo_size(image: Image.Image) -> tuple[int, int]:
        """(width, height) of the upright photo (EXIF rotation applied), without decoding it."""
        width, height = image.size
        orientation = image.getexif().get(0x0112, 1)
        return (height, width) if orientation in (5, 6, 7, 8) else (width, height)

    def frame_array(self, image: Image.Image) -> np.ndarray:
        """``uint8 [size, size, 3]``: the photo cropped or stretched to the model's input (bounds
        of :mod:`saliency_core.data.frame` checked before anything is resized)."""
        if self.resize == "crop":
            return frame_array(image, self.size)
        rgb = self.photo(image)
        h, w = rgb.shape[:2]
        shrink = self.size <= min(h, w)
        interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        return np.ascontiguousarray(cv2.resize(rgb, (self.size, self.size), interpolation=interp))

    def frame(self, image: Image.Image) -> Tensor:
        """``float32 [3, size, size]`` in [0, 1]: the model's input (before normalisation)."""
        return torch.from_numpy(self.frame_array(image)).permute(2, 0, 1).float().div_(255.0)

    # ------------------------------------------------------------------ geometry
    def geometry(self, original_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(resized_width, resized_height, left, top): the photo of ``original_size`` (width,
        height) is resized to resized_width x resized_height and the frame is the ``size`` square
        whose top-left corner is (left, top) in it (crop), or the whole of it (stretch)."""
        width, height = (check_integer("original_size", v) for v in original_size)
        check_aspect(width, height, "original_size")
        if self.resize == "stretch":
            return self.size, self.size, 0, 0
        scale = self.size / min(width, height)
        nw, nh = max(self.size, round(width * scale)), max(self.size, round(height * scale))
        return nw, nh, (nw - self.size) // 2, (nh - self.size) // 2

    def to_frame_box(self, box: Sequence[float], original_size: tuple[int, int],
                     name: str = "region") -> tuple[int, int, int, int]:
        """A box (x0, y0, x1, y1; x1/y1 exclusive) in photo pixels as the smallest box of frame
        pixels covering it, clipped to the frame; a ValueError when none of it is in the frame
        (e.g. in a part the crop cuts off)."""
        if len(box) != 4 or not all(math.isfinite(float(v)) for v in box):
            raise ValueError(f"{name} must be four finite numbers x0,y0,x1,y1, got {box!r}")
        x0, y0, x1, y1 = (float(v) for v in box)
        width, height = original_size
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"{name} {list(box)} is empty: need x1 > x0 and y1 > y0")
        nw, nh, left, top = self.geometry(original_size)
        sx, sy = nw / width, nh / height
        fx0, fx1 = math.floor(x0 * sx + 1e-9) - left, math.ceil(x1 * sx - 1e-9) - left
        fy0, fy1 = math.floor(y0 * sy + 1e-9) - top, math.ceil(y1 * sy - 1e-9) - top
        fx0, fy0, fx1, fy1 = max(fx0, 0), max(fy0, 0), min(fx1, self.size), min(fy1, self.size)
        if fx1 <= fx0 or fy1 <= fy0:
            raise ValueError(f"{name} {','.join(f'{v:g}' for v in (x0, y0, x1, y1))} is outside the part of the "
                             f"{width}x{height} photo the model sees (its centre crop)")
        return fx0, fy0, fx1, fy1

    def to_original(self, saliency: Tensor | np.ndarray, original_size: tuple[int, int], *,
                    interpolation: Literal["bilinear", "nearest"] = "bilinear",
                    fill: float = float("nan")) -> Tensor:
        """A map at the model's resolution (``[size, size]``) on the photo of ``original_size``
        (width, height): ``float32 [height, width]``.

        The inverse of the crop/stretch: each photo pixel takes the map's value at its centre's
        place in the frame (``"nearest"``: the frame pixel containing it, exact; ``"bilinear"``:
        interpolated between frame pixel centres, clamped at the frame's edges). Photo pixels
        outside the frame (cut off by the crop) get ``fill`` (NaN: "not seen"; 0 for a plain
        overlay).
        """
        grid = torch.as_tensor(np.asarray(saliency) if not isinstance(saliency, Tensor) else saliency)
        grid = grid.detach().float().cpu()
        if grid.shape != (self.size, self.size):
            raise ValueError(f"map must be [{self.size}, {self.size}] (the model's input), got {tuple(grid.shape)}")
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
        width, height = original_size
        nw, nh, left, top = self.geometry(original_size)
        ix, inside_x, wx = self._axis(width, nw, left, interpolation)
        iy, inside_y, wy = self._axis(height, nh, top, interpolation)
        columns = grid[:, ix[0]] * (1 - wx) + grid[:, ix[1]] * wx  # [size, width]
        out = columns[iy[0]] * (1 - wy)[:, None] + columns[iy[1]] * wy[:, None]  # [height, width]
        out[~inside_y, :] = fill
        out[:, ~inside_x] = fill
        return out

    def _axis(self, length: int, resized: int, offset: int,
              interpolation: str) -> tuple[tuple[Tensor, Tensor], Tensor, Tensor]:
        """Per photo pixel along one axis: the two frame indices to blend, whether it is in the
        frame, and the blend weight of the second."""
        centre = (torch.arange(length, dtype=torch.float64) + 0.5) * (resized / length) - offset  # edge units
        inside = (centre >= 0) & (centre < self.size)
        if interpolation == "nearest":
            index = centre.floor().clamp(0, self.size - 1).long()
            return (index, index), inside, torch.zeros(length)
        position = centre - 0.5  # pixel-centre units
        low = position.floor().clamp(0, self.size - 1)
        weight = (position - low).clamp(0, 1)
        high = (low + 1).clamp(max=self.size - 1)
        return (low.long(), high.long()), inside, weight.float()
