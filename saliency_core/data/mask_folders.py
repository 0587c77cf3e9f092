"""Class folders with an optional parallel folder of masks, decoded into a model's frame.

The layout (also what :mod:`saliency_core.data.archive` unpacks a zip into)::

    root/cat/x.jpg  root/dog/y.png         one folder per class (classes: sorted folder names)
    root/masks/cat/x.png                   optional: the region of cat/x.jpg, same name stem

A mask is an image of the photo's size whose white pixels (grey level above 127) mark the region
(the object, or a suspect artefact); it is framed exactly like its photo (crop or stretch, nearest
neighbour). A photo without a mask gets an empty one: no region, so the audit gives it NaN.

Photos and masks are decoded by ``image_file.read_image`` only. A file it refuses is skipped and
named in ``ImageSet.problems`` (one line each), as the other loaders do; a mask that cannot be
used is named there too, and its photo is kept without a region.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import torch

from saliency_core.data.archive import MASKS
from saliency_core.data.files import shown_name
from saliency_core.data.frame import mask_frame
from saliency_core.data.image_file import read_image
from saliency_core.data.loaders import IMAGE_SUFFIXES, ImageSet, load_any
from saliency_core.data.preprocess import Preprocess

THRESHOLD = 127  # grey levels above it are inside the region


def has_mask_layout(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` is class folders rather than a MANIFEST.csv or the Oxford-IIIT Pet layout."""
    root = Path(root)
    return not ((root / "MANIFEST.csv").exists() or (root / "images").is_dir())


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)


def _mask_files(root: Path, cls: str) -> dict[str, Path]:
    """The masks of class ``cls`` by name stem."""
    folder = root / MASKS / cls
    return {p.stem: p for p in _images(folder)} if folder.is_dir() else {}


def _frame_mask(path: Path, rel: str, photo_size: tuple[int, int], preprocess: Preprocess) -> np.ndarray:
    """The mask at ``path`` as bool [S,S] in the photo's frame; ValueError (one line) if unusable."""
    picture = read_image(path, name=rel)
    grey = Preprocess.photo(picture).max(axis=2)  # upright, like the photo
    height, width = grey.shape
    if (width, height) != photo_size:
        raise ValueError(f"{shown_name(rel)}: the mask is {width}×{height} but its photo is "
                         f"{photo_size[0]}×{photo_size[1]}: not used")
    inside = (grey > THRESHOLD).astype(np.uint8)
    size = preprocess.size
    if preprocess.resize == "stretch":
        framed = cv2.resize(inside, (size, size), interpolation=cv2.INTER_NEAREST)
    else:
        framed = mask_frame(inside, size)
    return framed.astype(bool)


def load_mask_folders(root: str | os.PathLike[str], preprocess: Preprocess | None = None) -> ImageSet:
    """The photos of the class folders at ``root`` in ``preprocess``'s frame (default: the
    128-pixel demo frame), with ``masks`` (None when ``root`` has no ``masks/`` folder)."""
    root = Path(root)
    preprocess = preprocess or Preprocess()
    if not root.is_dir():
        raise FileNotFoundError(f"not a folder: {shown_name(root)}")
    classes = tuple(sorted(d.name for d in root.iterdir()
                           if d.is_dir() and d.name != MASKS and not d.name.startswith(".")))
    if not classes:
        raise ValueError(f"{shown_name(root)} has no class folders (expected e.g. {shown_name(root / 'cat')}, "
                         f"{shown_name(root / 'dog')})")
    with_masks = (root / MASKS).is_dir()
    frames: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    labels: list[int] = []
    files: list[str] = []
    skipped: list[str] = []
    problems: list[str] = []
    empty = np.zeros((preprocess.size, preprocess.size), bool)
    for k, cls in enumerate(classes):
        mask_files = _mask_files(root, cls) if with_masks else {}
        for path in _images(root / cls):
            rel = f"{cls}/{path.name}"
            try:
                picture = read_image(path, name=rel)
                frame = preprocess.frame_array(picture)
                photo_size = Preprocess.photo_size(picture)
            except (ValueError, OSError, MemoryError) as error:  # read_image's line starts with the name
                skipped.append(rel)
                problems.append(str(error) if isinstance(error, ValueError)
                                else f"{shown_name(rel)}: cannot be read ({type(error).__name__})")
                continue
            mask = empty
            if path.stem in mask_files:
                mask_rel = f"{MASKS}/{cls}/{mask_files[path.stem].name}"
                try:
                    mask = _frame_mask(mask_files[path.stem], mask_rel, photo_size, preprocess)
                except (ValueError, OSError, MemoryError) as error:
                    problems.append(str(error) if isinstance(error, ValueError)
                                    else f"{shown_name(mask_rel)}: cannot be read ({type(error).__name__})")
            frames.append(frame)
            masks.append(mask)
            labels.append(k)
            files.append(rel)
    size = preprocess.size
    array = np.stack(frames) if frames else np.zeros((0, size, size, 3), np.uint8)
    return ImageSet(
        frames=torch.from_numpy(array).permute(0, 3, 1, 2).contiguous(),
        labels=torch.tensor(labels, dtype=torch.long), files=tuple(files), splits=("",) * len(files),
        classes=classes, masks=torch.from_numpy(np.stack(masks)) if with_masks and masks else None,
        skipped=tuple(skipped), problems=tuple(problems))


def load_dataset(root: str | os.PathLike[str], preprocess: Preprocess | None = None) -> ImageSet:
    """Class folders (with masks) by :func:`load_mask_folders`; a MANIFEST.csv or the Oxford-IIIT
    Pet layout by ``loaders.load_any`` (centre crop at ``preprocess.size``)."""
    if has_mask_layout(root):
        return load_mask_folders(root, preprocess)
    return load_any(root, (preprocess or Preprocess()).size)
