"""The Quadrants page's table: per photo of the quadrant set, a model's prediction, the share of its
top-0.5% gradient-squared pixels inside the watermark box (``saliency_core.metrics
.top_percent_share``) and the thumbnails the page shows (data URIs).

A zoo model's table is cached per server (``st.cache_data``) and on disk (``diskcache``); the
set is passed in (``_demo``, not hashed: its ``key`` is), so the server's warm-up thread
(``dashboard.common.warmup``) can fill the same cache as the page.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch

from dashboard.common.demo_sets import DemoSet
from dashboard.common.diskcache import cached_frame
from dashboard.common.locks import explain_locked
from dashboard.common.models import CLASSES, load_zoo_model, predict_set
from dashboard.common.render import data_uri, overlay, share_picture, side_by_side, upscale
from saliency_core.metrics import top_percent_share

N_PER_QUADRANT = 50
PERCENT = 0.5
RESULTS_VERSION = 3  # 2: vanilla thumbnails apart (made when the grid shows them); 3: share pictures


def quadrant_name(label: str, marked: bool) -> str:
    return f"{label}s {'with' if marked else 'without'} watermark"


@st.cache_data(max_entries=16, show_spinner=False)
def quadrant_results(name: str, key: tuple, fingerprint: str, _demo: DemoSet,
                     version: int = RESULTS_VERSION) -> pd.DataFrame:
    """Per image: truth, watermark, prediction, share and thumbnails (data URIs), for zoo model
    ``name`` on the quadrant set ``_demo`` (``key``: its key); kept on disk too (a new server
    reads it instead of recomputing). The predictions of the built-in photos are shipped with the
    app (``predict_set``); the vanilla-gradient thumbnails are made only when the image grid asks
    for them (:func:`vanilla_thumbs`)."""
    return cached_frame("quadrants", (name, key, fingerprint, version), lambda: table(
        _demo, predict_set(name, _demo), zoo_maps(name, _demo, "gradient_squared"), CLASSES))


def zoo_maps(name: str, demo: DemoSet, method: str) -> torch.Tensor:
    """``method``'s maps of zoo model ``name`` on every photo of ``demo``."""
    model, images = load_zoo_model(name), demo.images
    return torch.cat([explain_locked(model, images[start : start + 50].contiguous(), method).maps
                      for start in range(0, len(demo), 50)])


def table(demo: DemoSet, probs: np.ndarray, sq: torch.Tensor, classes: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """The table of :func:`quadrant_results` from a model's probabilities [N,K] and gradient-squared
    maps [N,128,128] on the quadrant set ``demo``."""
    share = top_percent_share(sq, demo.boxes.long(), percent=PERCENT).numpy()
    dog = list(classes).index("dog") if "dog" in classes else None
    rows, images = [], demo.images
    for i in range(len(demo)):
        img = upscale(images[i], 96)
        sq_over = overlay(img, sq[i], alpha=1.0)
        # the share's recipe: the map, the box (cyan), the top-0.5% pixels it counts (orange); one
        # block per map pixel, kept as PNG for the pinned panel (a JPEG smears the orange pixels)
        recipe = share_picture(sq[i], demo.boxes[i], PERCENT, size=sq.shape[-1])
        pred = int(np.argmax(probs[i]))
        rows.append({
            "id": demo.ids[i], "truth": demo.labels[i], "watermarked": demo.watermarked[i],
            "quadrant": quadrant_name(demo.labels[i], demo.watermarked[i]),
            "share": float(share[i]), "predicted": classes[pred], "confidence": float(probs[i][pred]),
            "p_dog": float(probs[i][dog]) if dog is not None else float("nan"),
            "thumb_input": data_uri(img, fmt="JPEG", quality=85),
            "thumb_squared": data_uri(sq_over, fmt="JPEG", quality=85),
            "thumb_share": data_uri(recipe),
            # the tooltip: the photo and the recipe (JPEG: 200 of them go to the browser with the chart)
            "image": data_uri(side_by_side(upscale(images[i], recipe.shape[0]), recipe, gap=3),
                              fmt="JPEG", quality=80),
        })
    return pd.DataFrame(rows)


def vanilla_thumb_list(demo: DemoSet, van: torch.Tensor | np.ndarray) -> list[str]:
    """The image grid's vanilla-gradient thumbnails of ``demo`` from its maps ``van`` [N,H,W]."""
    images = demo.images
    return [data_uri(overlay(upscale(images[i], 96), van[i], alpha=1.0), fmt="JPEG", quality=85)
            for i in range(len(demo))]


@st.cache_data(max_entries=16, show_spinner=False)
def vanilla_thumbs(name: str, key: tuple, fingerprint: str, _demo: DemoSet,
                   version: int = RESULTS_VERSION) -> pd.Series:
    """The vanilla-gradient thumbnails by image id (for the image grid; on disk too)."""
    def build() -> pd.DataFrame:
        return pd.DataFrame({"id": list(_demo.ids),
                             "thumb_vanilla": vanilla_thumb_list(_demo, zoo_maps(name, _demo, "vanilla_gradient"))})
    return cached_frame("quadrants-vanilla", (name, key, fingerprint, version), build).set_index("id")["thumb_vanilla"]
