"""Bias metrics on saliency maps and models, one small module each.

* ``region_share``: share of the top-p% pixels inside a box/mask (the explorable's metric);
* ``global_saliency``: Pfau et al.'s m and n per image, normalisations, per-class bootstrap CIs;
* ``dataset_bias``: Kendall tau between bias level and global saliency;
* ``failure_prediction``: response-rate/accuracy curve and AURRAC;
* ``sanity_checks``: Adebayo et al.'s model- and data-randomisation tests;
* ``kssd_fam``: K-SSD, CCM and FAM (Adebayo et al. 2022);
* ``core_spurious``: accuracy under noise on the spurious vs the core region (Salient ImageNet);
* ``counterfactual``: per-class flip rates under an image transform, Wilson CIs.
"""

from __future__ import annotations

from saliency_core.checks import region_masks
from .core_spurious import core_spurious_accuracy
from .counterfactual import flip_rates, flips, wilson_interval
from .dataset_bias import BiasTracking, bias_tracking
from .failure_prediction import ResponseCurve, aurrac, response_rate_curve
from .global_saliency import (
    GlobalSaliency,
    bootstrap_ci,
    global_saliency,
    mean_saliency,
    normalise,
    peak_saliency,
    per_class,
)
from .kssd_fam import ccm, fam, kssd
from .region_share import top_percent_share
from .sanity_checks import (
    cascading_randomisation,
    data_randomisation,
    hog_similarity,
    independent_randomisation,
    randomisable_layers,
    similarities,
    spaced_layers,
    spearman,
    ssim,
)
from .transforms import greyscale, hue_shift

__all__ = [
    "BiasTracking", "GlobalSaliency", "ResponseCurve", "aurrac", "bias_tracking", "bootstrap_ci",
    "cascading_randomisation", "ccm", "core_spurious_accuracy", "data_randomisation", "fam",
    "flip_rates", "flips", "global_saliency", "greyscale", "hog_similarity", "hue_shift",
    "independent_randomisation", "kssd", "mean_saliency", "normalise", "peak_saliency",
    "per_class", "randomisable_layers", "region_masks", "response_rate_curve", "similarities", "spaced_layers", "spearman", "ssim",
    "top_percent_share", "wilson_interval",
]
