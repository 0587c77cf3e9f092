"""The one place the dashboard reaches into ``saliency_core`` for data and artefacts.

Kept small and separate so a change in the data/artefact API is a change here only.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

FRAME = 128  # the model frame of the demo zoo (issue 4): shorter side 128, centre crop 128×128
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def data_dir() -> Path | None:
    """``saliency_core.data.data_dir()``; ``SALIENCY_DATA`` when that module is not built yet."""
    try:
        from saliency_core.data import data_dir as core_data_dir
    except ImportError:
        env = os.environ.get("SALIENCY_DATA")
        return Path(env).expanduser() if env else None
    return Path(core_data_dir())


def count_images(root: Path) -> int:
    manifest = root / "MANIFEST.csv"
    if manifest.is_file():
        with manifest.open(newline="") as f:
            return sum(1 for _ in csv.DictReader(f))
    n = 0
    for sub in root.iterdir():
        if sub.is_dir():
            n += sum(1 for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return n


def _number(name: str) -> int:
    m = re.search(r"(\d+)", Path(name).stem)
    return int(m.group(1)) if m else 0


def test_files(root: Path, species: str) -> list[Path]:
    """The test-split photos of one species, in a fixed order."""
    manifest = root / "MANIFEST.csv"
    if manifest.is_file():
        with manifest.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["species"] == species and r.get("split", "test") == "test"]
        files = sorted((r["file"] for r in rows), key=lambda s: (_number(s), s))
        return [root / f for f in files]
    folder = root / species
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: (_number(p.name), p.name))


def load_frame(path: Path, size: int = FRAME) -> torch.Tensor:
    """One photo in the model frame: float32 [3,size,size] in [0,1]."""
    try:
        from saliency_core.data import load_image  # type: ignore[attr-defined]
    except ImportError:
        load_image = None
    if load_image is not None:
        return load_image(path).float()
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        w, h = im.size
        s = size / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        im = im.crop((left, top, left + size, top + size))
        a = np.asarray(im, dtype=np.float32) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1).contiguous()


def watermark(image: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``saliency_core.artefacts.watermark``: the watermarked image and its bool mask [H,W]."""
    from saliency_core import artefacts

    out, mask = artefacts.watermark(image, seed=seed)
    return torch.as_tensor(out).float(), torch.as_tensor(mask).bool()


def mask_box(mask: torch.Tensor) -> torch.Tensor:
    ys, xs = torch.nonzero(mask, as_tuple=True)
    if ys.numel() == 0:
        return torch.zeros(4)
    return torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)


def build_demo_set(root: Path, n_per_class: int, *, wm_cats: str, wm_dogs: str, offset: int = 0):  # noqa: ANN201
    """See :func:`dashboard.common.data.demo_images`; ``wm_*`` is "yes", "no", "both" or "pairs"."""
    from dashboard.common.data import DemoSet

    clean: dict[str, list[tuple[str, torch.Tensor]]] = {}
    for species in ("cat", "dog"):
        files = test_files(root, species)[offset : offset + n_per_class]
        if not files:
            raise FileNotFoundError(f"no test {species} photos under {root}")
        clean[species] = [(Path(f).stem, load_frame(f)) for f in files]

    marked: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def wm(species: str, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if (species, i) not in marked:
            marked[species, i] = watermark(clean[species][i][1], seed=i)
        return marked[species, i]

    entries: list[tuple[str, str, torch.Tensor, bool, torch.Tensor]] = []  # id, label, img, wm, mask

    def add(species: str, i: int, with_mark: bool) -> None:
        name, img = clean[species][i]
        im, mask = wm(species, i)
        if with_mark:
            entries.append((f"{name}_wm", species, im, True, mask))
        else:
            entries.append((name, species, img, False, mask))

    modes = {"cat": wm_cats, "dog": wm_dogs}
    if "pairs" in modes.values():
        for i in range(n_per_class):
            for species in ("cat", "dog"):
                if i < len(clean[species]):
                    add(species, i, False)
                    add(species, i, True)
    elif "both" in modes.values():
        for with_mark in (True, False):
            for species in ("cat", "dog"):
                for i in range(len(clean[species])):
                    add(species, i, with_mark)
    else:
        for species in ("cat", "dog"):
            for i in range(len(clean[species])):
                add(species, i, modes[species] == "yes")

    masks = torch.stack([m for *_, m in entries])
    boxes = torch.stack([mask_box(m) for m in masks])
    # the exact mark's pixels only where the image carries it
    carried = torch.tensor([e[3] for e in entries])
    return DemoSet(
        images=torch.stack([e[2] for e in entries]).contiguous(),
        labels=tuple(e[1] for e in entries),
        ids=tuple(e[0] for e in entries),
        watermarked=tuple(bool(e[3]) for e in entries),
        boxes=boxes,
        masks=masks & carried[:, None, None],
    )
