"""Where the demo photos are, the how-to message when they are missing, and cached demo sets.

Every demo set is built once per server (``st.cache_resource``) from the manifest's ``test`` split
in the model frame (shorter side 128, centre crop 128×128, values in [0,1]); watermarks come from
``saliency_core.artefacts``. Treat the returned tensors as read-only: they are shared.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st
import torch

from dashboard.common import core

NO_DATA_MESSAGE = (
    "**No demo photos found.** This page needs the demo cat and dog photos.\n\n"
    "- If you have them (a folder with `MANIFEST.csv`, or one subfolder per class), point "
    "`SALIENCY_DATA` at it and restart: `SALIENCY_DATA=/path/to/cats-vs-dogs saliency-lab demo` "
    "(or `saliency-lab demo --data /path/to/cats-vs-dogs`).\n"
    "- Otherwise download them once with `saliency-lab data fetch` (Oxford-IIIT Pet, about 800 MB), "
    "then start the dashboard again.\n\n"
    "The *Your model & images* page works without them: upload your own images there."
)


@dataclass(frozen=True)
class DataStatus:
    ok: bool
    path: Path | None
    reason: str
    n_images: int = 0


@dataclass(frozen=True)
class DemoSet:
    """Images in the model frame with their truth, ids and watermark boxes.

    ``images`` float32 [N,3,128,128] in [0,1]; ``labels`` "cat"/"dog"; ``ids`` unique ids such as
    ``"cat.4001"`` / ``"cat.4001_wm"``; ``watermarked`` per image; ``boxes`` float32 [N,4]
    (x0, y0, x1, y1, exclusive) of the watermark region (the box it would occupy when the image
    has none); ``masks`` bool [N,H,W] of the exact watermark pixels (empty when not watermarked).
    """

    images: torch.Tensor
    labels: tuple[str, ...]
    ids: tuple[str, ...]
    watermarked: tuple[bool, ...]
    boxes: torch.Tensor
    masks: torch.Tensor = field(repr=False)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def index(self, image_id: str) -> int:
        return self.ids.index(image_id)

    def subset(self, idx: list[int]) -> DemoSet:
        t = torch.as_tensor(idx, dtype=torch.long)
        return DemoSet(
            self.images[t], tuple(self.labels[i] for i in idx), tuple(self.ids[i] for i in idx),
            tuple(self.watermarked[i] for i in idx), self.boxes[t], self.masks[t],
        )


def data_status() -> DataStatus:
    """The data directory from ``saliency_core.data.data_dir()`` (``SALIENCY_DATA``) and whether it
    holds photos."""
    try:
        path = core.data_dir()
    except Exception as err:  # noqa: BLE001 - a bad setting is a message, not a crash
        return DataStatus(False, None, f"data directory not usable: {err}")
    if path is None:
        return DataStatus(False, None, "SALIENCY_DATA is not set")
    path = Path(path)
    if not path.is_dir():
        return DataStatus(False, path, f"{path} does not exist")
    n = core.count_images(path)
    if n == 0:
        return DataStatus(False, path, f"{path} holds no images")
    return DataStatus(True, path, "ok", n)


def require_data() -> Path:
    """The data directory, or show :data:`NO_DATA_MESSAGE` and stop the page."""
    status = data_status()
    if not status.ok:
        st.info(NO_DATA_MESSAGE, icon=":material/photo_library:")
        st.caption(f"Details: {status.reason}.")
        st.stop()
    assert status.path is not None
    return status.path


def _root_key() -> str:
    status = data_status()
    return str(status.path) if status.path else os.environ.get("SALIENCY_DATA", "")


@st.cache_resource(show_spinner="Loading demo photos…", max_entries=16)
def _demo_set(root: str, n_per_class: int, wm_cats: str, wm_dogs: str, offset: int = 0) -> DemoSet:
    return core.build_demo_set(Path(root), n_per_class, wm_cats=wm_cats, wm_dogs=wm_dogs, offset=offset)


def demo_images(n_per_class: int = 25, *, watermark_cats: bool = True, watermark_dogs: bool = False,
                offset: int = 0) -> DemoSet:
    """``n_per_class`` test cats then dogs; cats (dogs) watermarked when asked (the explorable's
    test set has watermarked cats and clean dogs)."""
    return _demo_set(_root_key(), n_per_class, "yes" if watermark_cats else "no",
                     "yes" if watermark_dogs else "no", offset)


def quadrant_set(n_per_quadrant: int = 50) -> DemoSet:
    """The four quadrants: cats with, dogs with, cats without, dogs without a watermark."""
    return _demo_set(_root_key(), n_per_quadrant, "both", "both", 0)


def occlusion_pairs(n: int = 6) -> DemoSet:
    """``n`` test photos (cats and dogs alternating), each clean then watermarked (2n images)."""
    return _demo_set(_root_key(), (n + 1) // 2, "pairs", "pairs", 0).subset(list(range(2 * n)))
