"""Where the demo photos are, the how-to message when they are missing, and cached demo sets.

Every demo set is built once per server (``st.cache_resource``) from the manifest's ``test`` split
in the model frame (shorter side 128, centre crop 128×128, values in [0,1]); watermarks come from
``saliency_core.artefacts``. Treat the returned tensors as read-only: they are shared.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st
import torch

from dashboard.common import core

NO_DATA_MESSAGE = (
    "**No demo photos found.** This page needs the demo cat and dog photos.\n\n"
    "- If you have them (a folder with `MANIFEST.csv`, or one subfolder per class), point "
    "`SALIENCY_DATA` at it and restart: `SALIENCY_DATA=/path/to/cats-vs-dogs saliency-lab demo` "
    "(or `saliency-lab demo --data /path/to/cats-vs-dogs`).\n"
    "- Otherwise download a demo set once with `saliency-lab data fetch` (the Oxford-IIIT Pet photos "
    "into the per-user cache folder, where the dashboard finds them without `SALIENCY_DATA`), then "
    "start the dashboard again.\n\n"
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
    key: tuple[Any, ...] = ()  # hashable identity of the set, for st.cache_data keys

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def index(self, image_id: str) -> int:
        return self.ids.index(image_id)

    def subset(self, idx: list[int]) -> DemoSet:
        t = torch.as_tensor(idx, dtype=torch.long)
        return DemoSet(
            self.images[t], tuple(self.labels[i] for i in idx), tuple(self.ids[i] for i in idx),
            tuple(self.watermarked[i] for i in idx), self.boxes[t], self.masks[t],
            (*self.key, "subset", tuple(idx)),
        )


def data_status() -> DataStatus:
    """The data directory (``saliency_core.data.data_dir()``: ``SALIENCY_DATA`` or the per-user
    cache) and whether it holds photos."""
    try:
        path = core.data_dir()
    except FileNotFoundError as err:
        return DataStatus(False, None, str(err))
    except Exception as err:  # noqa: BLE001 - a bad setting is a message, not a crash
        return DataStatus(False, None, f"data directory not usable: {err}")
    try:
        n = core.count_images(path)
    except OSError as err:
        return DataStatus(False, path, f"{path} cannot be read: {err}")
    if n == 0:
        return DataStatus(False, path, f"{path} holds no photos")
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


@st.cache_resource(show_spinner="Loading the demo photos…", max_entries=2)
def test_photos(root: str) -> core.TestPhotos:
    """The held-out test photos (uint8 frames, cats then dogs) of the data folder ``root``."""
    return core.load_test_photos(Path(root))


def _root() -> str:
    return str(require_data())


DEMO_CACHE_VERSION = 1


def _disk_path(root: str, *params: object) -> Path | None:
    """Where a built demo set is kept between server starts (None when there is no cache dir)."""
    import hashlib

    try:
        from saliency_core.data import cache_dir

        manifest = Path(root) / "MANIFEST.csv"
        digest = hashlib.sha256(manifest.read_bytes() if manifest.is_file() else root.encode())
        digest.update(repr((DEMO_CACHE_VERSION, *params)).encode())
        return cache_dir() / "dashboard" / f"demo-{digest.hexdigest()[:20]}.pt"
    except (ImportError, OSError):
        return None


@st.cache_resource(show_spinner="Preparing the demo images…", max_entries=16)
def _demo_set(root: str, n_per_class: int, wm_cats: str, wm_dogs: str, offset: int = 0) -> DemoSet:
    key = ("demo", root, n_per_class, wm_cats, wm_dogs, offset)
    path = _disk_path(root, n_per_class, wm_cats, wm_dogs, offset)
    if path is not None and path.is_file():
        try:
            saved = torch.load(path, weights_only=True)
            return DemoSet(images=saved["images"], labels=tuple(saved["labels"]), ids=tuple(saved["ids"]),
                           watermarked=tuple(saved["watermarked"]), boxes=saved["boxes"],
                           masks=saved["masks"], key=key)
        except (OSError, RuntimeError, KeyError, ValueError, EOFError):
            pass  # a stale or broken cache file: rebuild it
    demo = _build_demo_set(root, n_per_class, wm_cats, wm_dogs, offset)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            torch.save({"images": demo.images, "labels": list(demo.labels), "ids": list(demo.ids),
                        "watermarked": list(demo.watermarked), "boxes": demo.boxes, "masks": demo.masks}, tmp)
            os.replace(tmp, path)  # atomic: another server never reads half a file
        except OSError:
            pass
    return demo


def _build_demo_set(root: str, n_per_class: int, wm_cats: str, wm_dogs: str, offset: int) -> DemoSet:
    photos = test_photos(root)
    chosen = {s: photos.positions(s)[offset : offset + n_per_class] for s in ("cat", "dog")}
    rows: list[tuple[int, bool]] = []  # (position in the test set, watermarked)
    modes = {"cat": wm_cats, "dog": wm_dogs}
    if "pairs" in modes.values():
        for i in range(n_per_class):
            for s in ("cat", "dog"):
                if i < len(chosen[s]):
                    rows += [(chosen[s][i], False), (chosen[s][i], True)]
    elif "both" in modes.values():
        rows = [(p, m) for m in (True, False) for s in ("cat", "dog") for p in chosen[s]]
    else:
        rows = [(p, modes[s] == "yes") for s in ("cat", "dog") for p in chosen[s]]
    images, masks, boxes = [], [], []
    for pos, marked in rows:
        clean = photos.frames[pos].float().div_(255.0)
        out, mask, box = core.watermarked(clean, pos)
        images.append(out if marked else clean)
        masks.append(mask if marked else torch.zeros_like(mask))
        boxes.append(box)
    ids = tuple(core.photo_id(photos.files[p]) + ("_wm" if m else "") for p, m in rows)
    return DemoSet(
        images=torch.stack(images).contiguous(),
        labels=tuple(photos.labels[p] for p, _ in rows),
        ids=ids,
        watermarked=tuple(m for _, m in rows),
        boxes=torch.stack(boxes),
        masks=torch.stack(masks),
        key=("demo", root, n_per_class, wm_cats, wm_dogs, offset),
    )


def _guarded(build: Callable[[], DemoSet]) -> DemoSet:
    try:
        return build()
    except (FileNotFoundError, ValueError, KeyError) as err:
        st.error(f"The demo images could not be prepared from the data folder: {err}")
        st.stop()
        raise  # unreachable: st.stop() raises


def demo_images(n_per_class: int = 25, *, watermark_cats: bool = True, watermark_dogs: bool = False,
                offset: int = 0) -> DemoSet:
    """``n_per_class`` test cats, then as many dogs; cats (dogs) watermarked when asked (the
    explorable's first test set has watermarked cats and clean dogs). Stops the page with the
    how-to message when there are no photos."""
    root = _root()
    return _guarded(lambda: _demo_set(root, n_per_class, "yes" if watermark_cats else "no",
                                      "yes" if watermark_dogs else "no", offset))


def quadrant_set(n_per_quadrant: int = 50) -> DemoSet:
    """The four quadrants in order: cats with, dogs with, cats without, dogs without a watermark
    (the same ``n_per_quadrant`` photos per species with and without the mark)."""
    root = _root()
    return _guarded(lambda: _demo_set(root, n_per_quadrant, "both", "both", 0))


def occlusion_pairs(n: int = 6) -> DemoSet:
    """``n`` test photos (cats and dogs alternating), each clean then watermarked (2n images)."""
    root = _root()
    return _guarded(lambda: _demo_set(root, (n + 1) // 2, "pairs", "pairs", 0)).subset(list(range(2 * n)))
