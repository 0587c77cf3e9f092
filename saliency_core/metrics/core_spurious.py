"""Core/spurious accuracy (Singla & Feizi, "Salient ImageNet").

Add Gaussian noise of standard deviation sigma only where a mask says (``kernels.masked_noise``)
and measure accuracy: once on the spurious region (mask M) and once on the core region (1 - M, or
a given core mask such as the animal's segmentation). A model that relies on the spurious feature
loses accuracy when the spurious region is corrupted and keeps it when the core is corrupted;
a sound model does the opposite.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
from torch import Tensor, nn

from saliency_core.checks import check_labels, region_masks
from saliency_core.kernels import masked_noise
from saliency_core.metrics.predict import check_model_images, predict_with_classes


def core_spurious_accuracy(
    model: nn.Module, images: Tensor, labels: Tensor, spurious: Tensor, sigmas: Sequence[float], *,
    core: Tensor | None = None, seed: int = 0, batch_size: int = 64,
) -> pd.DataFrame:
    """Accuracy under noise on each region; one row per (sigma, region).

    ``spurious`` and ``core``: boxes ``[B,4]`` or masks ``[B,H,W]``; float masks are soft weights
    in [0, 1] (noise sigma * m * eps), boolean/integer masks and boxes are 0/1. ``core`` defaults
    to the complement 1 - spurious. The same seed is used for both regions, so they differ only in
    where the noise goes. Columns: sigma, region ("spurious" | "core"), accuracy, n.
    """
    check_model_images(images)
    batch, _, height, width = images.shape
    labels = check_labels(labels, batch)
    if len(sigmas) == 0 or any(not s >= 0 for s in sigmas):
        raise ValueError(f"sigmas must be a non-empty list of non-negative numbers, got {list(sigmas)}")
    spurious_mask = _weights(spurious, batch, height, width)
    if core is None:
        core_mask = 1 - spurious_mask
        if not (core_mask > 0).flatten(1).any(1).all():
            raise ValueError("the spurious mask covers a whole image: no core region is left")
    else:
        core_mask = _weights(core, batch, height, width)
    rows = []
    for sigma in sigmas:
        for region, mask in (("spurious", spurious_mask), ("core", core_mask)):
            noisy = masked_noise(images, mask.to(images.device), float(sigma), seed)
            # Noisy copies leave [0, 1] by design: only the images the caller passed are range-checked.
            predicted, classes = predict_with_classes(model, noisy, batch_size, unit_range=False)
            check_labels(labels, batch, classes)  # known once the model has run (no extra pass)
            correct = predicted == labels
            rows.append({"sigma": float(sigma), "region": region,
                         "accuracy": float(correct.float().mean()), "n": batch})
    return pd.DataFrame(rows, columns=["sigma", "region", "accuracy", "n"])


def _weights(region: Tensor, batch: int, height: int, width: int) -> Tensor:
    """Noise weights float32 [B,H,W]: soft float masks as given, anything else rasterised to 0/1."""
    masks = region_masks(region, batch, height, width)  # validates shape, batch and emptiness
    region = torch.as_tensor(region)
    if region.dim() == 3 and region.is_floating_point():
        if bool(((region < 0) | (region > 1)).any()):
            raise ValueError("soft masks must hold values in [0, 1]")
        return region.float().cpu()
    return masks.float()
