"""The demo dataset: a deterministic split of the cats-vs-dogs manifest and the quadrant test set.

The held-out test photos come from :func:`held_out_images`: the cats-vs-dogs test split below
when ``root`` is such a folder, or all the built-in photos (``data.builtin``) in their own order.

* held-out test: 200 cats + 200 dogs from the manifest's ``test`` split (files sorted, then a
  seeded shuffle, first 200 of each species);
* everything else: training (90%) and validation (10%), again by a seeded shuffle;
* the quadrant test set: each test image clean and watermarked (``artefacts.watermark`` with the
  image's index as seed), i.e. cat/dog x watermark yes/no, 200 images each, with the boxes.

Decoded frames are cached as one ``.npy`` keyed by the manifest's hash: decoding all 4,000 JPEGs
is slow, and every training run and report needs them.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from saliency_core.artefacts import box_of, watermark, watermark_region

from . import cache_dir
from .builtin import is_builtin, load_builtin
from .files import read_regular_file
from .frame import FRAME
from .loaders import CLASSES, ImageSet, load_manifest, read_manifest

TEST_PER_CLASS = 200
VAL_FRACTION = 0.1
SPLIT_SEED = 0


def load_demo_images(root: Path, size: int = FRAME) -> ImageSet:
    """The manifest's photos in the model frame, decoded once and cached by manifest hash.

    Not the built-in photos: they are a test set only (the zoo must never train on them), so
    they are refused here with a ValueError; :func:`held_out_images` gives them.
    """
    if is_builtin(root):
        raise ValueError("the built-in photos are a held-out test set, not training data: set SALIENCY_DATA "
                         "(or pass --data) to the cats-vs-dogs folder to train or split")
    manifest = Path(root) / "MANIFEST.csv"
    if not (manifest.exists() or manifest.is_symlink()):
        raise FileNotFoundError(f"{manifest} not found: the demo needs the cats-vs-dogs MANIFEST.csv")
    digest = hashlib.sha256(read_regular_file(manifest, what="manifest file")).hexdigest()[:16]
    cache = cache_dir() / "frames" / f"{digest}-{size}"
    rows = read_manifest(manifest)
    if (cache / "frames.npy").is_file() and (cache / "files.txt").is_file():
        files = (cache / "files.txt").read_text().splitlines()
        by_file = {r["file"]: r for r in rows}
        if all(f in by_file for f in files):
            frames = torch.from_numpy(np.load(cache / "frames.npy"))
            kept = [by_file[f] for f in files]
            return ImageSet(frames=frames, labels=torch.tensor([CLASSES.index(r["species"]) for r in kept]),
                            files=tuple(files), splits=tuple(r.get("split", "") for r in kept))
    images = load_manifest(manifest, size, rows)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f"frames.{os.getpid()}.npy"
    np.save(tmp, images.frames.numpy())
    os.replace(tmp, cache / "frames.npy")  # atomic: a concurrent reader never sees half a file
    (cache / "files.txt").write_text("\n".join(images.files))
    return images


@dataclass(frozen=True)
class DemoSplit:
    """Indices into the ImageSet: ``train``, ``val``, ``test`` (test sorted cats first, then dogs)."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor


def demo_split(images: ImageSet, seed: int = SPLIT_SEED, test_per_class: int = TEST_PER_CLASS,
               val_fraction: float = VAL_FRACTION) -> DemoSplit:
    """The deterministic split described in the module docstring."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    rng = random.Random(seed)
    order = sorted(range(len(images)), key=lambda i: images.files[i])
    test: list[int] = []
    for label in range(len(images.classes)):
        pool = [i for i in order if images.splits[i] == "test" and int(images.labels[i]) == label]
        rng.shuffle(pool)
        if len(pool) < test_per_class:
            raise ValueError(f"only {len(pool)} {images.classes[label]} images in the test split, "
                             f"need {test_per_class}")
        test.extend(sorted(pool[:test_per_class], key=lambda i: images.files[i]))
    held = set(test)
    rest = [i for i in order if i not in held]
    rng.shuffle(rest)
    n_val = round(len(rest) * val_fraction)
    return DemoSplit(train=torch.tensor(sorted(rest[n_val:])), val=torch.tensor(sorted(rest[:n_val])),
                     test=torch.tensor(test))


QUADRANTS: tuple[tuple[str, bool], ...] = (("cat", True), ("cat", False), ("dog", True), ("dog", False))


def quadrant_name(species: str, marked: bool) -> str:
    return f"{species} {'with' if marked else 'without'} watermark"


@dataclass(frozen=True)
class QuadrantSet:
    """The four-quadrant test set: every test photo clean and watermarked.

    ``images`` float [2N,3,S,S] (the N clean images, then the same N watermarked); ``labels`` [2N];
    ``marked`` bool [2N]; ``boxes`` int [2N,4] the watermark box (x0,y0,x1,y1; also given for clean
    images: where the mark would be); ``files`` the photo of each row.
    """

    images: torch.Tensor
    labels: torch.Tensor
    marked: torch.Tensor
    boxes: torch.Tensor
    files: tuple[str, ...]

    def quadrant(self, species: str, marked: bool) -> torch.Tensor:
        """Row indices of one quadrant."""
        label = CLASSES.index(species)
        return torch.nonzero((self.labels == label) & (self.marked == marked)).flatten()


def quadrant_set(images: ImageSet, index: torch.Tensor) -> QuadrantSet:
    """Clean and watermarked copies of ``images[index]`` (watermark seed = position in ``index``)."""
    clean = images.images(index)
    marked = clean.clone()
    boxes = []
    for j in range(clean.shape[0]):
        marked[j], _ = watermark(clean[j], seed=j)
        boxes.append(box_of(watermark_region(clean.shape[2], clean.shape[3], seed=j)))
    box = torch.tensor(boxes, dtype=torch.long)
    labels = images.labels[index]
    n = clean.shape[0]
    files = tuple(images.files[int(i)] for i in index)
    return QuadrantSet(images=torch.cat([clean, marked]), labels=torch.cat([labels, labels]),
                       marked=torch.cat([torch.zeros(n, dtype=torch.bool), torch.ones(n, dtype=torch.bool)]),
                       boxes=torch.cat([box, box]), files=files + files)


def held_out_images(root: Path, size: int = FRAME) -> tuple[ImageSet, torch.Tensor]:
    """The photos at ``root`` and the indices of their held-out test photos (cats, then dogs).

    The built-in photos are a test set as a whole (the zoo never trains on them): all of them, in
    their manifest's order, with their pet masks. Any other folder: ``demo_split(...).test`` of its
    cats-vs-dogs manifest. An index's position in the returned order is the photo's watermark seed.
    """
    if is_builtin(root):
        images = load_builtin(size)
        order = sorted(range(len(images)), key=lambda i: int(images.labels[i]))  # stable: cats, then dogs
        return images, torch.tensor(order, dtype=torch.long)
    images = load_demo_images(root, size)
    return images, demo_split(images).test


def demo_test_set(root: Path) -> QuadrantSet:
    """The demo's four quadrants (every held-out photo clean and watermarked; 200 per quadrant on
    the cats-vs-dogs photos, 440 on the built-in ones) from the photos at ``root``."""
    images, test = held_out_images(root)
    return quadrant_set(images, test)
