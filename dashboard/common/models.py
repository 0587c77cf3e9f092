"""The zoo models, cached and shared by all sessions, with their display names.

``st.cache_resource`` keeps one instance per model for the whole server; anything that runs it
holds its lock (:mod:`dashboard.common.locks`), as ``predict`` does.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import torch

from dashboard.common.locks import lock_of
from saliency_core import zoo
from saliency_core.zoo import CLASSES  # the zoo models' outputs, in order
from saliency_core.zoo.fold import fold_batchnorm

# Display titles of the zoo models; unknown names show as they are.
MODEL_TITLES: dict[str, str] = {
    "normal": "Normal",
    "watermark-25": "Watermark 25%",
    "watermark-50": "Watermark 50%",
    "watermark-75": "Watermark 75%",
    "watermark-100": "Watermark",
    "cages": "Cages",
    "colours": "Colours",
    "random-labels": "Random labels",
}
# Display names of saliency_core.METHODS, in the order the pages offer them.
METHOD_LABELS: dict[str, str] = {
    "vanilla_gradient": "Vanilla gradient",
    "gradient_squared": "Gradient squared",
    "smoothgrad": "SmoothGrad",
    "integrated_gradients": "Integrated Gradients",
    "guided_backprop": "Guided Backprop",
    "grad_cam": "Grad-CAM",
    "competitive_gradient_x_input": "Competitive gradient × input",
    "rectified_gradient": "Rectified gradient",
    "rectified_gradient_unbiased": "Rectified gradient (unbiased)",
    "occlusion": "Occlusion",
}

__all__ = ["CLASSES", "METHOD_LABELS", "MODEL_TITLES", "load_zoo_model", "model_fingerprint", "predict",
           "predict_set", "require_models", "title", "zoo_names", "zoo_or_none"]


def title(name: str) -> str:
    return MODEL_TITLES.get(name, name)


def zoo_names() -> list[str]:
    """The zoo models whose weights are installed."""
    return list(zoo.names())


@st.cache_resource(show_spinner="Loading model…", max_entries=12)
def load_zoo_model(name: str) -> torch.nn.Module:
    """``saliency_core.zoo.load(name)`` in eval mode on the CPU with its batch norms folded into
    the convolutions (``zoo.fold``), one instance per server."""
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = fold_batchnorm(zoo.load(name).eval())  # leaner, quicker backward passes (zoo.fold)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def zoo_or_none(name: str) -> torch.nn.Module | None:
    """The shared zoo model, or None when the zoo cannot provide it (the page says why)."""
    try:
        return load_zoo_model(name)
    except Exception:  # noqa: BLE001 - any loading failure becomes the ZOO_HELP message
        return None


def require_models(*names: str, load: bool = True) -> None:
    """Load ``names`` (cached); on failure show a plain ``st.error`` and stop the page. ``load=False``
    only checks that their weights are installed: for a page that reads shipped results (Two models
    on the built-in photos), which needs no model until it computes."""
    missing: list[str] = []
    installed = set(zoo_names()) if not load else set()
    for name in names:
        if not load:
            if name not in installed:
                missing.append(f"`{name}` (not installed)")
            continue
        try:
            load_zoo_model(name)
        except (AttributeError, FileNotFoundError, KeyError, ValueError, OSError) as err:
            missing.append(f"`{name}` ({err.__class__.__name__}: {err})")
    if missing:
        st.error("These zoo models could not be loaded: " + "; ".join(missing)
                 + ". Train them with `saliency-lab train --all`, or reinstall the package.")
        st.stop()


@st.cache_resource(show_spinner=False, max_entries=32)
def model_fingerprint(name: str) -> str:
    """A short hash of the model's weights: put it in disk-cache keys so retrained weights never
    reuse stale results."""
    h = hashlib.sha256()
    for key, tensor in sorted(load_zoo_model(name).state_dict().items()):
        h.update(key.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def predict(name: str, images: torch.Tensor, *, batch_size: int = 16) -> torch.Tensor:
    """Softmax probabilities ``[B,K]`` of zoo model ``name`` (float32 CPU), ``batch_size`` images
    per forward pass: 200 photos through the normal model took 2.98 s and +729 MB at once, 1.08 s
    and +112 MB in batches of 16 (the activations, not the photos, fill the memory)."""
    model = load_zoo_model(name)
    out: list[torch.Tensor] = []
    with lock_of(model), torch.inference_mode():
        for i in range(0, images.shape[0], batch_size):
            out.append(torch.softmax(model(images[i : i + batch_size].float()), dim=1))
    return torch.cat(out) if out else torch.empty(0, len(CLASSES))


@st.cache_data(max_entries=256, show_spinner=False)
def _predict_cached(name: str, key: tuple[Any, ...], _demo: Any, _ids: tuple[str, ...] = ()) -> np.ndarray:
    # A demo set of the built-in photos: the shipped table (dashboard/data/page_cache) when it
    # matches the installed zoo and photos; else computed once and kept in the cache folder.
    from dashboard.common.diskcache import cached_frame, shipped_probabilities

    root = key[1] if len(key) > 1 and key[0] == "demo" and isinstance(key[1], str) else None
    if root is not None and _ids:
        shipped = shipped_probabilities(name, root, _ids)
        if shipped is not None:
            return shipped
    frame = cached_frame("predictions", (name, model_fingerprint(name), key),
                         lambda: pd.DataFrame(predict(name, _demo.images).numpy(), columns=list(CLASSES)))
    return frame.to_numpy(dtype=np.float32)


def predict_set(name: str, demo: Any) -> np.ndarray:
    """Probabilities ``[N,K]`` (numpy) of model ``name`` on a demo set, cached by ``demo.key`` (and
    shipped with the app for the built-in photos' demo sets)."""
    if not demo.key:
        return predict(name, demo.images).numpy()
    return _predict_cached(name, tuple(demo.key), demo, tuple(demo.ids))
