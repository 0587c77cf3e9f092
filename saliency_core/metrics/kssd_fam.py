"""K-SSD, CCM and FAM (Adebayo et al. 2022, "Post hoc explanations may be ineffective for
detecting unknown spurious correlation").

All three are per-image SSIM scores (``sanity_checks.ssim``: maps scaled to [0, 1] with their own
min and max, data range 1), averaged by the caller as needed:

* **K-SSD** (known spurious signal detection): SSIM(g(f_spu, x_spu), M), the similarity of the
  spurious model's map on a spurious input to the spurious signal's mask M (the ground-truth
  explanation). High = the method shows the signal the model relies on.
* **CCM** (cause for concern): SSIM(g(f_norm, x_spu), g(f_spu, x_spu)), normal vs spurious model
  on *spurious* inputs. High = the maps do not reveal that the spurious model differs.
* **FAM** (false alarm): SSIM(g(f_norm, x), g(f_spu, x)), normal vs spurious model on inputs
  *without* the spurious signal, as in the paper. Low = a false alarm (the maps differ although
  the signal is absent).

CCM and FAM are the same formula; which inputs the maps were computed on decides which measure it
is, so ``fam`` and ``ccm`` only differ in name and documentation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from saliency_core.checks import check_batch, check_maps, region_masks
from saliency_core.metrics.sanity_checks import ssim


def kssd(spurious_maps: Tensor, signal: Tensor) -> np.ndarray:
    """K-SSD per image: SSIM of the spurious model's maps to the signal's mask ``[B,H,W]`` (or
    boxes ``[B,4]``, rasterised to a 0/1 mask)."""
    maps = check_maps(spurious_maps, "spurious maps")
    mask = region_masks(signal, *maps.shape).to(torch.float32)
    return ssim(maps, mask)


def ccm(normal_maps: Tensor, spurious_maps: Tensor) -> np.ndarray:
    """CCM per image: SSIM of normal vs spurious model's maps, both on spurious inputs."""
    return _compare(normal_maps, spurious_maps)


def fam(normal_maps: Tensor, spurious_maps: Tensor) -> np.ndarray:
    """FAM per image: SSIM of normal vs spurious model's maps, both on normal inputs."""
    return _compare(normal_maps, spurious_maps)


def _compare(normal_maps: Tensor, spurious_maps: Tensor) -> np.ndarray:
    a = check_maps(normal_maps, "normal maps")
    b = check_maps(spurious_maps, "spurious maps")
    check_batch("normal maps", a.shape[0], "spurious maps", b.shape[0])
    return ssim(a, b)
