"""The demo sets the pages show: held-out test photos, clean or watermarked, cached per server.

The photos are those ``photos.require_data()`` says are in use: the built-in ones (all 880 are
held out) or the test split of the ``SALIENCY_DATA`` folder.

Every set is built once per server (``st.cache_resource``, and on disk between servers) by the
library's one builder, ``saliency_core.data.quadrants.marked_photos``: the model frame (128×128,
[0,1]) and each photo's own watermark, the same one it carries on every page and in the audit
report. A set keeps its photos as uint8 and the watermarked pixels' values apart (a quarter of the
memory of float32 frames: the server's photo tensors went from 95 to 38 MB); its float32 pixels,
the same bits ``marked_photos`` made, are made when asked for. Treat the returned tensors as read-only:
they are shared.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import streamlit as st
import torch

from dashboard.common.photos import require_data
from saliency_core.data import cache_dir
from saliency_core.data.builtin import is_builtin
from saliency_core.data.frame import FRAME
from saliency_core.data.loaders import CLASSES, ImageSet, load_manifest, read_manifest
from saliency_core.data.quadrants import HeldOutPhotos, first_of_each, load_held_out, marked_photos

DEMO_CACHE_VERSION = 3  # 2: pet masks; 3: uint8 frames and the marks' values


@dataclass(frozen=True)
class DemoSet:
    """Images in the model frame with their truth, ids and watermark boxes.

    ``frames`` uint8 [N,3,128,128]: the photos without their marks; ``marks`` float32 [K,3]: the
    watermarked pixels' values, in ``masks.nonzero()`` order; :attr:`images` (float32 [N,3,H,W]
    in [0,1]) puts them together. ``labels`` "cat"/"dog"; ``ids`` unique ids such as
    ``"cat.4001"`` / ``"cat.4001_wm"``; ``watermarked`` per image; ``boxes`` float32 [N,4]
    (x0, y0, x1, y1, exclusive) of the watermark region (the box it would occupy when the image
    has none); ``masks`` bool [N,H,W] of the exact watermark pixels (empty when not watermarked);
    ``pet_masks`` bool [N,H,W] of the animal (None when the photos have none: cats-vs-dogs).
    """

    frames: torch.Tensor = field(repr=False)
    marks: torch.Tensor = field(repr=False)
    labels: tuple[str, ...]
    ids: tuple[str, ...]
    watermarked: tuple[bool, ...]
    boxes: torch.Tensor
    masks: torch.Tensor = field(repr=False)
    key: tuple[Any, ...] = ()  # hashable identity of the set (ends with its pixels' digest), for cache keys
    pet_masks: torch.Tensor | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def index(self, image_id: str) -> int:
        return self.ids.index(image_id)

    @property
    def images(self) -> torch.Tensor:
        """float32 [N,3,H,W] in [0,1], made on each call: hold on to it while you use it, and ask for
        :meth:`image` / :meth:`images_at` when a few photos will do."""
        return pixels(self.frames, self.masks, self.marks)

    def image(self, i: int) -> torch.Tensor:
        """float32 [3,H,W] of photo ``i``."""
        return self.images_at([i])[0]

    def images_at(self, idx: list[int]) -> torch.Tensor:
        """float32 [len(idx),3,H,W] of the photos ``idx``."""
        t = torch.as_tensor(idx, dtype=torch.long)
        return pixels(self.frames[t], self.masks[t], self._marks_of(idx))

    def subset(self, idx: list[int]) -> DemoSet:
        t = torch.as_tensor(idx, dtype=torch.long)
        return DemoSet(
            self.frames[t], self._marks_of(idx), tuple(self.labels[i] for i in idx), tuple(self.ids[i] for i in idx),
            tuple(self.watermarked[i] for i in idx), self.boxes[t], self.masks[t],
            (*self.key, "subset", tuple(idx)), None if self.pet_masks is None else self.pet_masks[t],
        )

    def _marks_of(self, idx: list[int]) -> torch.Tensor:
        starts = self._mark_starts
        parts = [self.marks[starts[i]:starts[i + 1]] for i in idx]
        return torch.cat(parts) if parts else self.marks[:0]

    @cached_property
    def _mark_starts(self) -> list[int]:
        """Where each photo's marks begin in :attr:`marks` (N + 1 offsets); counted once per set
        (~7 ms for 200 photos, and a page asks for single photos many times)."""
        return [0, *self.masks.flatten(1).sum(1).cumsum(0).tolist()]


def pixels(frames: torch.Tensor, masks: torch.Tensor, marks: torch.Tensor) -> torch.Tensor:
    """float32 [N,3,H,W]: ``frames`` (uint8) in [0,1] as ``marked_photos`` scales them, with the
    pixels under ``masks`` set to ``marks``."""
    out = frames.float().div_(255.0)
    if marks.numel():
        out.permute(0, 2, 3, 1)[masks] = marks  # a view: writes into ``out``
    return out


@st.cache_resource(show_spinner="Loading the demo photos…", max_entries=2)
def held_out(root: str) -> HeldOutPhotos:
    """The held-out test photos (uint8 frames, cats then dogs) of the data folder ``root``."""
    return load_held_out(Path(root))


def _disk_path(root: str, *params: object) -> Path | None:
    """Where a built demo set is kept between server starts (None when that cannot be known)."""
    try:
        manifest = Path(root) / "MANIFEST.csv"
        digest = hashlib.sha256(manifest.read_bytes() if manifest.is_file() else root.encode())
    except OSError:
        return None
    digest.update(repr((DEMO_CACHE_VERSION, *params)).encode())
    return cache_dir() / "dashboard" / f"demo-{digest.hexdigest()[:20]}.pt"


@st.cache_resource(show_spinner="Preparing the demo images…", max_entries=16)
def _demo_set(root: str, n_per_class: int, wm_cats: str, wm_dogs: str, offset: int = 0) -> DemoSet:
    key = ("demo", root, n_per_class, wm_cats, wm_dogs, offset)
    path = _disk_path(root, n_per_class, wm_cats, wm_dogs, offset)
    if path is not None and path.is_file():
        try:
            saved = torch.load(path, weights_only=True)
            return DemoSet(frames=saved["frames"], marks=saved["marks"], labels=tuple(saved["labels"]),
                           ids=tuple(saved["ids"]), watermarked=tuple(saved["watermarked"]), boxes=saved["boxes"],
                           masks=saved["masks"], key=(*key, str(saved["digest"])), pet_masks=saved.get("pet_masks"))
        except (OSError, RuntimeError, KeyError, ValueError, EOFError):
            pass  # a stale or broken cache file: rebuild it
    demo = build_demo_set(root, n_per_class, wm_cats, wm_dogs, offset)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            torch.save({"frames": demo.frames, "marks": demo.marks, "labels": list(demo.labels),
                        "ids": list(demo.ids), "watermarked": list(demo.watermarked), "boxes": demo.boxes,
                        "masks": demo.masks, "pet_masks": demo.pet_masks, "digest": demo.key[-1]}, tmp)
            os.replace(tmp, path)  # atomic: another server never reads half a file
        except OSError:
            pass
    return demo


def pixels_digest(images: torch.Tensor) -> str:
    """A sha256 of the images' pixels: the last part of a set's key. Results cached by the key
    (in memory, and on disk by the Quadrants page) then never outlive the photos they were computed
    on: the photos at a path can change (a regenerated built-in set, a refilled data folder)."""
    return hashlib.sha256(images.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def _builtin_part(root: str, n_per_class: int, offset: int) -> HeldOutPhotos | None:
    """The built-in held-out photos with only the rows a set of the first ``n_per_class`` cats and
    dogs (after ``offset``) needs decoded (the others are zeros): the same frames, labels, files,
    masks and positions (= watermark seeds) as :func:`held_out`, without decoding all 880 photos on
    a fresh server. None when that cannot be done (the caller then decodes them all)."""
    try:
        rows, order, wanted, images = _decoded_part(root, n_per_class, offset)
        labels = tuple(rows[i]["species"] for i in order)
        if images.skipped or images.masks is None or len(images.files) != len(wanted):
            return None
        frames = torch.zeros((len(rows), *images.frames.shape[1:]), dtype=images.frames.dtype)
        masks = torch.zeros((len(rows), *images.masks.shape[1:]), dtype=torch.bool)
        index = torch.as_tensor(wanted, dtype=torch.long)
        frames[index], masks[index] = images.frames, images.masks
        return HeldOutPhotos(frames=frames, labels=labels, files=tuple(rows[i]["file"] for i in order),
                             pet_masks=masks)
    except (OSError, ValueError, KeyError):
        return None


@functools.lru_cache(maxsize=2)
def _decoded_part(root: str, n_per_class: int, offset: int) -> tuple[list[dict[str, str]], list[int], list[int], ImageSet]:
    """(manifest rows, their held-out order, the wanted positions, those photos decoded) for
    :func:`_builtin_part`: decoded once for the sets that share them (the Two models page's three
    sets of the same 50 photos took 0.70 s to build, decoding them each time, and take 0.28 s); ~3 MB kept."""
    manifest = Path(root) / "MANIFEST.csv"
    rows = read_manifest(manifest)
    order = sorted(range(len(rows)), key=lambda i: CLASSES.index(rows[i]["species"]))  # as held_out_images
    labels = [rows[i]["species"] for i in order]
    wanted = [p for species in ("cat", "dog")
              for p in [q for q, label in enumerate(labels) if label == species][offset:offset + n_per_class]]
    return rows, order, wanted, load_manifest(manifest, FRAME, [rows[order[p]] for p in wanted])


def build_demo_set(root: str, n_per_class: int, wm_cats: str, wm_dogs: str, offset: int = 0) -> DemoSet:
    """The set itself (uncached). ``wm_cats``/``wm_dogs``: "yes"/"no" (that species marked or
    not), "both" (the four quadrants: all marked, then all clean) or "pairs" (each photo clean,
    then marked; cats and dogs alternating)."""
    photos = _builtin_part(root, n_per_class, offset) if is_builtin(root) else None
    photos = photos or held_out(root)
    chosen = first_of_each(photos, n_per_class, offset)
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
    marked = marked_photos(photos, rows)
    frames = photos.frames[torch.as_tensor([p for p, _ in rows], dtype=torch.long)]
    return DemoSet(
        frames=frames,
        marks=marked.images.permute(0, 2, 3, 1)[marked.masks],  # [K,3], a copy
        labels=marked.labels,
        ids=tuple(Path(f).stem + ("_wm" if m else "") for f, m in zip(marked.files, marked.marked)),
        watermarked=marked.marked,
        boxes=marked.boxes,
        masks=marked.masks,
        key=("demo", root, n_per_class, wm_cats, wm_dogs, offset, pixels_digest(marked.images)),
        pet_masks=marked.pet_masks,
    )


def _guarded(build: Callable[[], DemoSet]) -> DemoSet:
    try:
        return build()
    except (FileNotFoundError, ValueError, KeyError) as err:
        st.error(f"The demo images could not be prepared from the data folder: {err}")
        st.stop()
        raise  # unreachable: st.stop() raises


def demo_set_at(root: str, n_per_class: int, wm_cats: str, wm_dogs: str, offset: int = 0) -> DemoSet:
    """The cached set the functions below return for the photos at ``root``, without a page (no
    session state, no message): for the server's warm-up thread."""
    return _demo_set(root, n_per_class, wm_cats, wm_dogs, offset)


def demo_images(n_per_class: int = 25, *, watermark_cats: bool = True, watermark_dogs: bool = False,
                offset: int = 0) -> DemoSet:
    """``n_per_class`` test cats, then as many dogs; cats (dogs) watermarked when asked (the
    explorable's first test set has watermarked cats and clean dogs). Stops the page with the
    how-to message when there are no photos."""
    root = str(require_data())
    return _guarded(lambda: _demo_set(root, n_per_class, "yes" if watermark_cats else "no",
                                      "yes" if watermark_dogs else "no", offset))


def quadrant_set(n_per_quadrant: int = 50) -> DemoSet:
    """The four quadrants in order: cats with, dogs with, cats without, dogs without a watermark
    (the same ``n_per_quadrant`` photos per species with and without the mark)."""
    root = str(require_data())
    return _guarded(lambda: _demo_set(root, n_per_quadrant, "both", "both", 0))


def occlusion_pairs(n: int = 6) -> DemoSet:
    """``n`` test photos (cats and dogs alternating), each clean then watermarked (2n images)."""
    root = str(require_data())
    return _guarded(lambda: _pairs(root, n))


def pairs_at(root: str, n: int = 6) -> DemoSet:
    """:func:`occlusion_pairs` of the photos at ``root``, without a page: for the warm-up thread."""
    return _pairs(root, n)


@st.cache_resource(show_spinner=False, max_entries=4)
def _pairs(root: str, n: int) -> DemoSet:
    # once per server: a subset is a copy, and every run of two pages asks for it
    return _demo_set(root, (n + 1) // 2, "pairs", "pairs", 0).subset(list(range(2 * n)))
