"""Cached zoo models shared by all sessions, with one lock per model.

``st.cache_resource`` keeps one instance per model for the whole server. Saliency methods register
hooks and run backward on it, which is not safe from two sessions at once, so every such call
holds ``model_lock(name)`` (``predict`` and ``explain_locked`` do it for you).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import streamlit as st
import torch

# Display titles of the zoo models (issue 4's names); unknown names show as they are.
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
CLASSES: tuple[str, ...] = ("cat", "dog")
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

_LOCKS_GUARD = threading.Lock()
_LOCKS: dict[str, threading.Lock] = {}


def title(name: str) -> str:
    return MODEL_TITLES.get(name, name)


def zoo_names() -> list[str]:
    """The zoo's model names (empty if the zoo package is missing)."""
    try:
        from saliency_core import zoo
    except ImportError:
        return []
    return list(zoo.names())


def model_lock(name: str) -> threading.Lock:
    """The process-wide lock of model ``name`` (hold it around hooks/backward on the shared model)."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(name, threading.Lock())


@st.cache_resource(show_spinner="Loading model…", max_entries=12)
def load_zoo_model(name: str) -> torch.nn.Module:
    """``saliency_core.zoo.load(name)`` in eval mode on the CPU, one instance per server."""
    from saliency_core import zoo

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = zoo.load(name)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def require_models(*names: str) -> None:
    """Load ``names`` (cached); on failure show a plain ``st.error`` and stop the page."""
    missing: list[str] = []
    for name in names:
        try:
            load_zoo_model(name)
        except (ImportError, AttributeError, FileNotFoundError, KeyError, ValueError, OSError) as err:
            missing.append(f"`{name}` ({err.__class__.__name__}: {err})")
    if missing:
        st.error("These zoo models could not be loaded: " + "; ".join(missing)
                 + ". Train them with `saliency-lab train --all`, or reinstall the package.")
        st.stop()


@st.cache_resource(show_spinner=False, max_entries=32)
def model_fingerprint(name: str) -> str:
    """A short hash of the model's weights: put it in disk-cache keys so retrained weights never
    reuse stale results."""
    import hashlib

    h = hashlib.sha256()
    for key, tensor in sorted(load_zoo_model(name).state_dict().items()):
        h.update(key.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def predict(name: str, images: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """Softmax probabilities ``[B,K]`` of zoo model ``name`` (float32 CPU)."""
    model = load_zoo_model(name)
    out: list[torch.Tensor] = []
    with model_lock(name), torch.inference_mode():
        for i in range(0, images.shape[0], batch_size):
            out.append(torch.softmax(model(images[i : i + batch_size].float()), dim=1))
    return torch.cat(out) if out else torch.empty(0, len(CLASSES))


def explain_locked(name: str, images: torch.Tensor, method: str, **options: Any) -> Any:
    """``saliency_core.explain`` on zoo model ``name`` while holding its lock."""
    from saliency_core.methods import explain

    model = load_zoo_model(name)
    with model_lock(name):
        return explain(model, images, method, **options)


@st.cache_data(max_entries=256, show_spinner=False)
def _predict_cached(name: str, key: tuple[Any, ...], _images: torch.Tensor) -> np.ndarray:
    return predict(name, _images).numpy()


def predict_set(name: str, demo: Any) -> np.ndarray:
    """Probabilities ``[N,K]`` (numpy) of model ``name`` on a demo set, cached by ``demo.key``."""
    if not demo.key:
        return predict(name, demo.images).numpy()
    return _predict_cached(name, tuple(demo.key), demo.images)


@st.cache_data(max_entries=4096, show_spinner=False)
def _map_cached(name: str, image_key: tuple[Any, ...], method: str, options: tuple[tuple[str, Any], ...],
                _image: torch.Tensor) -> np.ndarray:
    exp = explain_locked(name, _image[None].contiguous(), method, **dict(options))
    return exp.maps[0].numpy()


def saliency_map(name: str, image_key: tuple[Any, ...], image: torch.Tensor, method: str,
                 **options: Any) -> np.ndarray:
    """The display map [H,W] of ``method`` on one image [3,H,W], cached by (model, image key,
    method, options). ``image_key`` must identify the image (e.g. a DemoSet key + id, or a hash)."""
    return _map_cached(name, tuple(image_key), method, tuple(sorted(options.items())), image)
