"""The watermarked quadrant test set, built one way for every consumer.

Cats and dogs x with and without the demo watermark, from the held-out test photos
(``demo.held_out_images``: the cats-vs-dogs test split, or all the built-in photos; cats, then
dogs). A photo's watermark is seeded by its *position in that test set*, as
:func:`saliency_core.data.demo.demo_test_set` (the zoo's evaluation) seeds it. So whichever
subset is taken, in whichever order (a dashboard page's strip, the audit report's first 100 of
each class), a given photo always carries the same mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from saliency_core.artefacts import box_of, watermark, watermark_region

from .demo import held_out_images


@dataclass(frozen=True)
class HeldOutPhotos:
    """The held-out test photos: ``frames`` uint8 [N,3,S,S] (cats, then dogs), their ``labels``
    ("cat"/"dog"), ``files`` and ``pet_masks`` bool [N,S,S] (True on the animal; None when the
    photos have no masks, as the cats-vs-dogs ones). A photo's index here is its watermark seed."""

    frames: torch.Tensor
    labels: tuple[str, ...]
    files: tuple[str, ...]
    pet_masks: torch.Tensor | None = None

    def positions(self, species: str) -> list[int]:
        """The positions of one species' photos, in order."""
        return [i for i, label in enumerate(self.labels) if label == species]


def load_held_out(root: Path) -> HeldOutPhotos:
    """The held-out test photos under ``root`` (the decoded frames are cached on disk)."""
    images, test = held_out_images(root)
    return HeldOutPhotos(
        frames=images.frames[test].clone(),  # keep only these; the thousands of others are released
        labels=tuple(images.classes[int(images.labels[i])] for i in test),
        files=tuple(images.files[int(i)] for i in test),
        pet_masks=None if images.masks is None else images.masks[test].clone(),
    )


def watermarked(image: torch.Tensor, position: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(marked image, exact mask bool [H,W], box float [4]) of the test photo at ``position``."""
    out, mask = watermark(image, seed=position)
    box = box_of(watermark_region(image.shape[-2], image.shape[-1], seed=position))
    return out, mask, torch.tensor(box, dtype=torch.float32)


@dataclass(frozen=True)
class MarkedPhotos:
    """Rows of held-out photos, each clean or watermarked.

    ``images`` float32 [N,3,S,S] in [0,1]; ``labels`` "cat"/"dog"; ``files`` and ``positions``
    (in the test set) of each row's photo; ``marked`` per row; ``boxes`` float32 [N,4] (x0, y0,
    x1, y1, exclusive) where the mark is, or would be on a clean row; ``masks`` bool [N,H,W] of
    the exact mark pixels (all False on a clean row); ``pet_masks`` bool [N,H,W] of the animal
    (None when the photos have no masks).
    """

    images: torch.Tensor
    labels: tuple[str, ...]
    files: tuple[str, ...]
    positions: tuple[int, ...]
    marked: tuple[bool, ...]
    boxes: torch.Tensor
    masks: torch.Tensor = field(repr=False)
    pet_masks: torch.Tensor | None = field(default=None, repr=False)


def marked_photos(photos: HeldOutPhotos, rows: Sequence[tuple[int, bool]]) -> MarkedPhotos:
    """The photos at the rows' positions, watermarked where the row says so (``(position, marked)``)."""
    images, masks, boxes = [], [], []
    for position, marked in rows:
        clean = photos.frames[position].float().div_(255.0)
        out, mask, box = watermarked(clean, position)
        images.append(out if marked else clean)
        masks.append(mask if marked else torch.zeros_like(mask))
        boxes.append(box)
    size = photos.frames.shape[-1]
    return MarkedPhotos(
        images=torch.stack(images).contiguous() if images else torch.empty(0, 3, size, size),
        labels=tuple(photos.labels[p] for p, _ in rows),
        files=tuple(photos.files[p] for p, _ in rows),
        positions=tuple(p for p, _ in rows),
        marked=tuple(m for _, m in rows),
        boxes=torch.stack(boxes) if boxes else torch.empty(0, 4),
        masks=torch.stack(masks) if masks else torch.empty(0, size, size, dtype=torch.bool),
        pet_masks=None if photos.pet_masks is None
        else photos.pet_masks[torch.tensor([p for p, _ in rows], dtype=torch.long)],
    )


def first_of_each(photos: HeldOutPhotos, per_class: int, offset: int = 0) -> dict[str, list[int]]:
    """The positions of the first ``per_class`` cats and dogs (after skipping ``offset`` of each)."""
    return {species: photos.positions(species)[offset:offset + per_class] for species in ("cat", "dog")}


__all__ = ["HeldOutPhotos", "MarkedPhotos", "first_of_each", "load_held_out", "marked_photos", "watermarked"]
