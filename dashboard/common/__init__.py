"""Shared helpers for the dashboard pages (import as ``from dashboard.common import ...``).

``dashboard/app.py`` puts the repository root on ``sys.path``, so every page can import this
package. No numerics live here: models, methods and metrics come from ``saliency_core``; these
helpers only load, cache, lock and draw.

Data (``dashboard.common.data``)
    ``data_status() -> DataStatus``      where the demo photos are (``.ok``, ``.path``, ``.reason``)
    ``NO_DATA_MESSAGE``                  the exact how-to-get-the-data text (Markdown)
    ``require_data() -> Path``           shows ``NO_DATA_MESSAGE`` and ``st.stop()``s when missing
    ``demo_images(n_per_class, watermark_cats, watermark_dogs) -> DemoSet``
                                         cached test images in the model frame (128×128, [0,1])
    ``quadrant_set(n_per_quadrant) -> DemoSet``  cats/dogs × watermark yes/no, with the mark's boxes
    ``occlusion_pairs(n) -> DemoSet``    clean/watermarked pairs for the occlusion strip

Models (``dashboard.common.models``)
    ``zoo_names() -> list[str]``         names from ``saliency_core.zoo.names()``
    ``load_zoo_model(name) -> nn.Module`` ``st.cache_resource``; eval mode, shared by all sessions
    ``model_fingerprint(name) -> str``   hash of the weights, for disk-cache keys
    ``model_lock(name) -> threading.Lock`` hold it around anything that registers hooks or
                                         runs backward on the shared model (every saliency method)
    ``require_models(*names)``          load them, or show a plain error and ``st.stop()``
    ``predict(name, images) -> Tensor[B,K]`` probabilities under the lock, ``inference_mode``
    ``predict_set(name, demo) -> ndarray[N,K]`` ``st.cache_data`` by the set's ``key``
    ``saliency_map(name, image_key, image, method, **options) -> ndarray[H,W]`` cached display map
    ``explain_locked(name, images, method, **options)`` ``saliency_core.explain`` under the lock
    ``MODEL_TITLES``                     display names ("Normal", "Watermark 100%", ...)

Drawing (``dashboard.common.render``; the numerics are ``saliency_core.render``'s)
    ``to_uint8(image) -> ndarray[H,W,3]`` a [3,H,W]/[H,W,3] float image in [0,1] → uint8 RGB
    ``overlay(image, map, alpha=0.6, cmap="saliency") -> ndarray`` a map blended over the image
    ``colorize(map, cmap) -> ndarray``   a map in colours ("saliency", "puor", "signed")
    ``grid_overlay(image, values, alpha, edges=, frame=)`` an n×n value grid (P(dog)) as PuOr cells
    ``png_bytes(array) -> bytes`` / ``data_uri(array) -> str`` for downloads and tooltips
    ``upscale(array, size)``              resize (bicubic) so the longer side is ``size`` px
    ``side_by_side(*arrays)``            images of one height next to each other

Palette and chips (``dashboard.common.palette``, ``dashboard.common.chips``)
    ``CAT_COLOUR``, ``DOG_COLOUR``, ``puor(p_dog) -> "#rrggbb"``  cat→dog diverging scale (PuOr)
    ``prediction_chip(label, prob) -> str``  an HTML chip "cat 97.3%" (render with
                                         ``st.markdown(..., unsafe_allow_html=True)``)
    ``chip_for(probs, classes) -> str``  the chip of the arg-max class of one probability row
    ``show_chip(label, prob)``           writes the chip into the current container

Galleries (``dashboard.common.gallery``)
    ``gallery_html(items, size)``        many thumbnails + chips as ONE Markdown/HTML element

Widgets (``dashboard.common.widgets``)
    ``image_strip(demo, key)``           thumbnails + a button each; the chosen id in ``session_state[key]``
    ``puor_legend()``                    HTML cat→dog colour bar

Disk cache (``dashboard.common.diskcache``)
    ``cached_frame(kind, key, build)``   a DataFrame built once, kept as Parquet between servers

Sidebar (``dashboard.common.sidebar``)
    ``render()``                         data status + kernel backend; called by ``app.py``
"""

from __future__ import annotations

from dashboard.common.chips import chip_for, prediction_chip, show_chip
from dashboard.common.data import (
    NO_DATA_MESSAGE,
    DataStatus,
    DemoSet,
    data_status,
    demo_images,
    occlusion_pairs,
    quadrant_set,
    require_data,
)
from dashboard.common.models import (
    MODEL_TITLES,
    explain_locked,
    load_zoo_model,
    model_fingerprint,
    model_lock,
    predict,
    predict_set,
    require_models,
    saliency_map,
    zoo_names,
)
from dashboard.common.gallery import gallery_html
from dashboard.common.palette import CAT_COLOUR, DOG_COLOUR, puor
from dashboard.common.widgets import image_strip, puor_legend
from dashboard.common.render import colorize, data_uri, grid_overlay, overlay, png_bytes, to_uint8, upscale

__all__ = [
    "CAT_COLOUR", "DOG_COLOUR", "MODEL_TITLES", "NO_DATA_MESSAGE", "DataStatus", "DemoSet",
    "chip_for", "colorize", "data_status", "data_uri", "demo_images", "explain_locked",
    "gallery_html", "grid_overlay", "load_zoo_model", "model_fingerprint", "model_lock", "occlusion_pairs", "overlay", "png_bytes",
    "predict", "predict_set", "prediction_chip", "puor", "quadrant_set", "require_data", "require_models", "saliency_map", "image_strip", "puor_legend", "show_chip", "to_uint8",
    "upscale", "zoo_names",
]
