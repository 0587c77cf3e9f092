"""Loaders for three photo layouts, all decoded into the model frame as one uint8 tensor.

* a folder with one subfolder per class (``root/cat/*.jpg``, ``root/dog/*.jpg``);
* a manifest CSV (columns file, species, breed, width, height, split, sha256, source_path);
* the Oxford-IIIT Pet layout (``images/Abyssinian_1.jpg``: a Capitalised breed is a cat,
  a lower-case one a dog; ``annotations/trimaps/*.png`` become animal masks when present).

Unreadable or corrupt files are skipped, and ONE warning counts them (never a crash).
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .frame import FRAME, frame_array, mask_frame

CLASSES: tuple[str, ...] = ("cat", "dog")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class ImageSet:
    """Decoded photos in the model frame.

    ``frames`` uint8 [N,3,S,S]; ``labels`` int64 [N] (index into ``classes``); ``files`` paths
    relative to the root; ``splits`` the manifest split ("" when unknown); ``masks`` bool [N,S,S]
    animal masks (None when the layout has none); ``skipped`` the files (relative to the root)
    that could not be read, also counted in one ``RuntimeWarning``.
    """

    frames: torch.Tensor
    labels: torch.Tensor
    files: tuple[str, ...]
    splits: tuple[str, ...]
    classes: tuple[str, ...] = CLASSES
    masks: torch.Tensor | None = None
    skipped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def images(self, index: torch.Tensor | Sequence[int] | None = None) -> torch.Tensor:
        """float32 [n,3,S,S] in [0, 1] (all images, or those at ``index``)."""
        frames = self.frames if index is None else self.frames[torch.as_tensor(index, dtype=torch.long)]
        return frames.float().div_(255.0)


def _decode(paths: Sequence[Path], size: int, what: str) -> tuple[np.ndarray, list[int], list[int]]:
    """Decode ``paths``; returns the frames that worked, their indices and the indices of the rest
    (one warning counts them)."""
    frames: list[np.ndarray] = []
    kept: list[int] = []
    failed: list[int] = []
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as im:
                im.load()
                frames.append(frame_array(im, size))
            kept.append(i)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            failed.append(i)
    if failed:
        names = [paths[i].name for i in failed]
        shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
        warnings.warn(f"skipped {len(names)} unreadable or corrupt image(s) in {what}: {shown}",
                      RuntimeWarning, stacklevel=3)
    array = np.stack(frames) if frames else np.zeros((0, size, size, 3), np.uint8)
    return array, kept, failed


def _image_set(root: Path, rel: list[str], labels: list[int], splits: list[str], classes: tuple[str, ...],
               size: int, mask_paths: list[Path | None] | None = None) -> ImageSet:
    array, kept, failed = _decode([root / r for r in rel], size, str(root))
    masks = None
    if mask_paths is not None and any(mask_paths[i] is not None for i in kept):
        masks = torch.zeros((len(kept), size, size), dtype=torch.bool)
        for j, i in enumerate(kept):
            mp = mask_paths[i]
            if mp is None:
                masks[j] = True  # no trimap: the whole frame counts as animal
                continue
            try:
                with Image.open(mp) as m:
                    trimap = np.asarray(m)
                # Oxford trimaps: 1 = animal, 2 = background, 3 = boundary (counted as animal).
                masks[j] = torch.from_numpy(mask_frame(trimap, size) != 2)
            except (OSError, ValueError):
                masks[j] = True
    return ImageSet(
        frames=torch.from_numpy(array).permute(0, 3, 1, 2).contiguous(),
        labels=torch.tensor([labels[i] for i in kept], dtype=torch.long),
        files=tuple(rel[i] for i in kept), splits=tuple(splits[i] for i in kept),
        classes=classes, masks=masks, skipped=tuple(rel[i] for i in failed),
    )


def load_folder(root: str | Path, size: int = FRAME) -> ImageSet:
    """One subfolder per class; classes are the sorted subfolder names."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"not a folder: {root}")
    classes = tuple(sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")))
    if not classes:
        raise ValueError(f"{root} has no class subfolders (expected e.g. {root}/cat, {root}/dog)")
    rel: list[str] = []
    labels: list[int] = []
    for k, name in enumerate(classes):
        for f in sorted((root / name).iterdir()):
            if f.suffix.lower() in IMAGE_SUFFIXES:
                rel.append(f"{name}/{f.name}")
                labels.append(k)
    return _image_set(root, rel, labels, [""] * len(rel), classes, size)


MANIFEST_COLUMNS = ("file", "species", "breed", "width", "height", "split", "sha256", "source_path")


def read_manifest(path: str | Path) -> list[dict[str, str]]:
    """Rows of a manifest CSV (needs at least the columns file and species)."""
    path = Path(path)
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"file", "species"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"manifest {path} lacks column(s) {sorted(missing)}")
        return list(reader)


def load_manifest(path: str | Path, size: int = FRAME, rows: list[dict[str, str]] | None = None) -> ImageSet:
    """Photos listed in a manifest CSV; files are relative to the CSV's folder."""
    path = Path(path)
    rows = read_manifest(path) if rows is None else rows
    classes = CLASSES
    unknown = sorted({r["species"] for r in rows} - set(classes))
    if unknown:
        raise ValueError(f"manifest {path} has species {unknown}; expected {list(classes)}")
    return _image_set(path.parent, [r["file"] for r in rows], [classes.index(r["species"]) for r in rows],
                      [r.get("split", "") or "" for r in rows], classes, size)


def pet_species(filename: str) -> str:
    """Oxford-IIIT Pet convention: cat breeds are Capitalised (``Bengal_12.jpg``), dogs lower-case."""
    if not filename or not filename[0].isalpha():
        raise ValueError(f"cannot tell the species of {filename!r}: breed name must start with a letter")
    return "cat" if filename[0].isupper() else "dog"


def load_oxford_pet(root: str | Path, size: int = FRAME) -> ImageSet:
    """``root/images/*.jpg`` (+ ``root/annotations/trimaps/*.png`` as animal masks when present)."""
    root = Path(root)
    images = root / "images"
    if not images.is_dir():
        raise FileNotFoundError(f"no Oxford-IIIT Pet layout at {root}: {images} is missing")
    trimaps = root / "annotations" / "trimaps"
    rel: list[str] = []
    labels: list[int] = []
    mask_paths: list[Path | None] = []
    for f in sorted(images.iterdir()):
        if f.suffix.lower() not in IMAGE_SUFFIXES or f.name.startswith("."):
            continue
        rel.append(f"images/{f.name}")
        labels.append(CLASSES.index(pet_species(f.name)))
        tm = trimaps / (f.stem + ".png")
        mask_paths.append(tm if tm.is_file() else None)
    return _image_set(root, rel, labels, [""] * len(rel), CLASSES, size,
                      mask_paths if trimaps.is_dir() else None)


def load_any(root: str | Path, size: int = FRAME) -> ImageSet:
    """Detect the layout: MANIFEST.csv, else ``images/`` (Oxford-IIIT Pet), else class subfolders."""
    root = Path(root)
    if (root / "MANIFEST.csv").is_file():
        return load_manifest(root / "MANIFEST.csv", size)
    if (root / "images").is_dir():
        return load_oxford_pet(root, size)
    return load_folder(root, size)
