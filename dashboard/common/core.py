"""The one place the dashboard reaches into ``saliency_core`` for demo data and artefacts.

The demo's held-out test photos come from ``saliency_core.data.demo`` (the deterministic split);
watermarks from ``saliency_core.artefacts.watermark`` with the photo's position in the test set
as seed, exactly as ``demo_test_set`` (and so the zoo's evaluation and docs/RESULTS.md) draws them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

FRAME = 128  # the model frame of the demo zoo: shorter side 128, centre crop 128×128


def data_dir() -> Path:
    """``saliency_core.data.data_dir()``: raises FileNotFoundError (with how-to text) when missing."""
    from saliency_core.data import data_dir as core_data_dir

    return Path(core_data_dir())


def count_images(root: Path) -> int:
    """Photos under ``root``: manifest rows, else image files one folder down."""
    from saliency_core.data.loaders import IMAGE_SUFFIXES

    manifest = root / "MANIFEST.csv"
    if manifest.is_file():
        with manifest.open(newline="") as f:
            return max(0, sum(1 for line in f if line.strip()) - 1)
    n = 0
    for sub in root.iterdir():
        if sub.is_dir():
            n += sum(1 for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return n


@dataclass(frozen=True)
class TestPhotos:
    """The held-out test photos in the model frame: ``frames`` uint8 [N,3,S,S], cats then dogs."""

    frames: torch.Tensor
    labels: tuple[str, ...]
    files: tuple[str, ...]

    def positions(self, species: str) -> list[int]:
        return [i for i, label in enumerate(self.labels) if label == species]


def load_test_photos(root: Path) -> TestPhotos:
    """The demo split's test photos (decoded once; ``load_demo_images`` caches frames on disk)."""
    from saliency_core.data.demo import demo_split, load_demo_images

    images = load_demo_images(root)
    test = demo_split(images).test
    return TestPhotos(
        frames=images.frames[test].clone(),  # keep only these 400; the 4,000 are released
        labels=tuple(images.classes[int(images.labels[i])] for i in test),
        files=tuple(images.files[int(i)] for i in test),
    )


def watermarked(image: torch.Tensor, position: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(marked image, exact mask [H,W], region box [4]) for the test photo at ``position``."""
    from saliency_core.artefacts import box_of, watermark, watermark_region

    out, mask = watermark(image, seed=position)
    box = box_of(watermark_region(image.shape[-2], image.shape[-1], seed=position))
    return out, mask, torch.tensor(box, dtype=torch.float32)


def photo_id(file: str) -> str:
    return Path(file).stem
