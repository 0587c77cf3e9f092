"""Coat colour estimate (brown vs grey/black) from the animal region of a model-frame image.

The animal region is found with GrabCut (2 iterations, on a 64x64 copy) seeded by a centre rectangle (the middle 3/4 of the
frame); when GrabCut finds (almost) nothing, the centre crop is used instead. Each animal pixel is
classified in OpenCV HSV (H in 0-179, S and V in 0-255):

* grey/black: V < 70 (black), or S < 50 and V < 190 (grey; excludes white);
* brown: 5 <= H <= 25 (orange-brown hues) and S >= 60 and V >= 50;
* anything else (white, cream, other hues) counts towards neither.

Image label: "brown" when brown pixels are >= 40% of the animal and outnumber grey/black ones;
"grey_black" when grey/black pixels are >= 50% and outnumber brown ones; otherwise "other".
The colours training script reports how many images fall in each class.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

COAT_COLOURS = ("brown", "grey_black", "other")


def _animal_mask(rgb: np.ndarray) -> np.ndarray:
    full_h, full_w = rgb.shape[:2]
    # GrabCut at 64 px: ~4x faster than at 128 and plenty for a coat-colour estimate.
    small = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA)
    fg = _grabcut(small)
    return cv2.resize(fg.astype(np.uint8), (full_w, full_h), interpolation=cv2.INTER_NEAREST).astype(bool)


def _grabcut(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    rect = (w // 8, h // 8, w - w // 4, h - h // 4)
    mask = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.setRNGSeed(0)  # GrabCut's GMM initialisation uses OpenCV's RNG: keep it deterministic
        cv2.grabCut(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), mask, rect, bgd, fgd, 2, cv2.GC_INIT_WITH_RECT)
        fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    except cv2.error:
        fg = np.zeros((h, w), bool)
    if fg.sum() < 0.05 * h * w:
        fg = np.zeros((h, w), bool)
        fg[h // 4: h - h // 4, w // 4: w - w // 4] = True
    return fg


def coat_colour(image: torch.Tensor) -> str:
    """"brown" | "grey_black" | "other" for one float ``[3,H,W]`` image in [0, 1]."""
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be a [3,H,W] tensor, got {getattr(image, 'shape', type(image))}")
    rgb = (image.detach().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).contiguous().numpy()
    fg = _animal_mask(rgb)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[fg].astype(np.int32)
    hue, sat, val = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    grey = (val < 70) | ((sat < 50) & (val < 190))
    brown = ~grey & (hue >= 5) & (hue <= 25) & (sat >= 60) & (val >= 50)
    n = max(1, hsv.shape[0])
    fb, fg_ = brown.sum() / n, grey.sum() / n
    if fb >= 0.4 and fb > fg_:
        return "brown"
    if fg_ >= 0.5 and fg_ > fb:
        return "grey_black"
    return "other"


def coat_colours(images: torch.Tensor) -> list[str]:
    """``coat_colour`` for each image of a ``[B,3,H,W]`` batch."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError("images must be a [B,3,H,W] tensor")
    return [coat_colour(im) for im in images]
