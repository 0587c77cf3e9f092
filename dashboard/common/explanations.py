"""Saliency maps of the shared models, cached: one image by its key, or a batch by its content.

Every map is computed with :func:`dashboard.common.locks.explain_locked` (the model's lock held).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st
import torch

from dashboard.common.locks import explain_locked
from dashboard.common.models import load_zoo_model


@dataclass(frozen=True)
class Maps:
    maps: np.ndarray  # [B,H,W] float32 display maps
    probabilities: np.ndarray  # [B,K]


def digest_of(array: np.ndarray | torch.Tensor) -> str:
    """A short sha256 of an array's content (a cache key for images without an id)."""
    data = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
    return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()[:24]


@st.cache_data(show_spinner=False, max_entries=512)
def _batch_maps(model_key: str, digest: str, method: str, _model: torch.nn.Module,
                _images: torch.Tensor) -> Maps:
    result = explain_locked(_model, _images, method)
    return Maps(result.maps.detach().float().cpu().numpy(),
                result.probabilities.detach().float().cpu().numpy())


def batch_maps(model_key: str, model: torch.nn.Module, images: torch.Tensor, method: str) -> Maps:
    """``model`` explained on a batch; cached by ``model_key`` (which must identify the model),
    the images' sha256 and the method."""
    return _batch_maps(model_key, digest_of(images), method, model, images)


def zoo_batch_maps(name: str, images: torch.Tensor, method: str) -> Maps:
    """:func:`batch_maps` of the zoo model ``name``."""
    return batch_maps(f"zoo:{name}", load_zoo_model(name), images, method)


@st.cache_data(max_entries=4096, show_spinner=False)
def _map_cached(name: str, image_key: tuple[Any, ...], method: str, options: tuple[tuple[str, Any], ...],
                _image: torch.Tensor) -> np.ndarray:
    exp = explain_locked(load_zoo_model(name), _image[None].contiguous(), method, **dict(options))
    return exp.maps[0].numpy()


def saliency_map(name: str, image_key: tuple[Any, ...], image: torch.Tensor, method: str,
                 **options: Any) -> np.ndarray:
    """The display map [H,W] of ``method`` on one image [3,H,W], cached by (model, image key,
    method, options). ``image_key`` must identify the image (e.g. a DemoSet key + id, or a hash)."""
    return _map_cached(name, tuple(image_key), method, tuple(sorted(options.items())), image)
