"""The audit's dataset adapter: anything image-like in, uniform batches out.

Accepted inputs:

* an iterable / DataLoader yielding dicts with keys ``images`` (or ``image``), ``labels``
  (``label``), optional ``ids`` (``id``), ``boxes`` (``box``) [B,4] or ``masks`` (``mask``)
  [B,H,W], and any other per-image values (e.g. ``watermarked``), which become columns;
* or tuples ``(images, labels)``, ``(ids, images, labels)`` or ``(ids, images, labels, regions)``;
* single samples (images ``[3,H,W]``) as well as batches (``[B,3,H,W]``);
* a ``saliency_core.data.ImageSet`` (or any object with ``frames``, ``labels``, ``files`` and
  ``images(index)``): ids are the file paths, a non-empty ``splits`` becomes a ``split`` column;
* a folder path: read with ``saliency_core.data.load_any`` (class folders, MANIFEST.csv or the
  Oxford-IIIT Pet layout, model frame of ``image_size``, at most ``frame.MAX_FRAME``). Files it
  cannot read (pipes and devices are never opened; corrupt, multi-frame, bomb, strip...) are
  skipped, and one ``RuntimeWarning`` names each with its reason, one line per file.

Images are float ``[B,3,H,W]`` in [0, 1]. Items are re-chunked into batches of ``batch_size``.
Images without ids get their running index as id, so a re-run over the same data finds them again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from saliency_core.checks import check_positive
from saliency_core.data import FRAME, load_any
from saliency_core.data.files import shown_name
from saliency_core.data.frame import check_frame_size
from saliency_core.data.loaders import IMAGE_SUFFIXES  # noqa: F401 - audit.run counts folder images with it
_KEYS = {"id": "ids", "image": "images", "label": "labels", "box": "boxes", "mask": "masks"}


@dataclass
class Batch:
    ids: list[str]
    images: Tensor  # [B,3,H,W] float in [0, 1]
    labels: Tensor  # [B] int64
    regions: Tensor | None = None  # boxes [B,4] or masks [B,H,W]
    extras: dict[str, list[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


def _as_list(value: Any, n: int) -> list[Any]:
    if isinstance(value, Tensor):
        value = value.reshape(-1).tolist() if value.dim() <= 1 else list(value)
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, (str, int, float, bool)):
        value = [value]
    values: list[Any] = list(value)
    if len(values) != n:
        raise ValueError(f"batch sizes differ: {n} images but {len(values)} per-image values")
    return values


def _batch(item: Any, start: int) -> Batch:
    """One dataset item (dict or tuple; single sample or batch) as a Batch."""
    if isinstance(item, dict):
        fields: dict[str, Any] = {_KEYS.get(str(k), str(k)): v for k, v in item.items()}
    elif isinstance(item, (tuple, list)) and len(item) == 2:  # e.g. a TensorDataset's DataLoader
        fields = dict(zip(("images", "labels"), item))
    elif isinstance(item, (tuple, list)) and len(item) in (3, 4):
        fields = dict(zip(("ids", "images", "labels", "regions"), item))
    else:
        raise ValueError("dataset items must be dicts, (images, labels) or "
                         "(ids, images, labels[, regions]) tuples")
    if "images" not in fields or "labels" not in fields:
        raise ValueError(f"dataset items need images and labels, got keys {sorted(fields)}")
    images = torch.as_tensor(fields.pop("images"))
    single = images.dim() == 3
    if single:
        images = images[None]
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be RGB [B,3,H,W] (or [3,H,W]), got shape {tuple(images.shape)}")
    images = images.float()
    n = images.shape[0]
    labels = torch.as_tensor(_as_list(fields.pop("labels"), n), dtype=torch.long)
    ids = fields.pop("ids", None)
    ids = [str(i) for i in (_as_list(ids, n) if ids is not None else range(start, start + n))]
    regions = fields.pop("regions", None)
    boxes, masks = fields.pop("boxes", None), fields.pop("masks", None)
    if regions is None:
        regions = boxes if boxes is not None else masks
    if regions is not None:
        regions = torch.as_tensor(regions)
        if single:
            regions = regions[None]
        if regions.shape[0] != n:
            raise ValueError(f"batch sizes differ: {n} images but {regions.shape[0]} regions")
    extras = {key: _as_list(value, n) for key, value in fields.items()}
    return Batch(ids, images, labels, regions, extras)


def _concat(parts: list[Batch]) -> Batch:
    regions = [p.regions for p in parts]
    if any(r is None for r in regions) and not all(r is None for r in regions):
        raise ValueError("some dataset items have regions and others do not")
    keys = parts[0].extras.keys()
    return Batch(
        [i for p in parts for i in p.ids],
        torch.cat([p.images for p in parts]),
        torch.cat([p.labels for p in parts]),
        None if regions[0] is None else torch.cat(regions),  # type: ignore[arg-type]
        {k: [v for p in parts for v in p.extras.get(k, [None] * len(p))] for k in keys},
    )


def is_image_set(dataset: Any) -> bool:
    """Duck-typed ``saliency_core.data.ImageSet``: decoded frames with labels and file names."""
    return all(hasattr(dataset, a) for a in ("frames", "labels", "files")) and callable(
        getattr(dataset, "images", None))


def image_set_items(images: Any, chunk: int = 64) -> Iterator[dict[str, Any]]:
    """Dict batches of an ImageSet, decoding ``chunk`` frames to float at a time."""
    splits = list(getattr(images, "splits", ()) or ())
    for start in range(0, len(images.labels), chunk):
        stop = min(start + chunk, len(images.labels))
        item: dict[str, Any] = {"ids": list(images.files[start:stop]),
                                "images": images.images(list(range(start, stop))),
                                "labels": images.labels[start:stop]}
        if any(splits):
            item["split"] = splits[start:stop]
        yield item


def open_folder(root: Path, image_size: int) -> Iterator[dict[str, Any]]:
    """The items of a data folder (``saliency_core.data.load_any``) at ``image_size``."""
    if not Path(root).is_dir():
        what = "is not a folder" if Path(root).exists() else "does not exist"
        raise ValueError(f"data folder {shown_name(root)} {what}")
    return image_set_items(load_any(root, image_size))


def iter_batches(dataset: Iterable[Any] | str | Path, batch_size: int = 32,
                 image_size: int = FRAME) -> Iterator[Batch]:
    """Uniform batches of at most ``batch_size`` images from any accepted dataset."""
    check_positive("batch_size", batch_size)
    if isinstance(dataset, (str, Path)):
        check_frame_size(image_size, "image_size")  # before any file is read
        items: Iterable[Any] = open_folder(Path(dataset), image_size)
    elif is_image_set(dataset):
        items = image_set_items(dataset)
    else:
        items = dataset
    pending: list[Batch] = []
    count = seen = 0
    for item in items:
        part = _batch(item, seen)
        seen += len(part)
        pending.append(part)
        count += len(part)
        while count >= batch_size:
            whole = _concat(pending)
            yield _slice(whole, 0, batch_size)
            rest = _slice(whole, batch_size, len(whole))
            pending, count = ([rest] if len(rest) else []), len(rest)
    if pending:
        yield _concat(pending)


def _slice(batch: Batch, start: int, stop: int) -> Batch:
    return Batch(
        batch.ids[start:stop], batch.images[start:stop], batch.labels[start:stop],
        None if batch.regions is None else batch.regions[start:stop],
        {k: v[start:stop] for k, v in batch.extras.items()},
    )
