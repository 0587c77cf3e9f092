"""Class folders with a parallel masks/ folder: photos and masks framed alike, bad files named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from saliency_core.data import BUILTIN_DIR
from saliency_core.data.loaders import load_folder
from saliency_core.data.mask_folders import has_mask_layout, load_dataset, load_mask_folders
from saliency_core.data.preprocess import Preprocess


def save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def left_mask(width: int, height: int, cut: int) -> np.ndarray:
    """White left of column ``cut``, black right of it."""
    mask = np.zeros((height, width), np.uint8)
    mask[:, :cut] = 255
    return mask


def photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_photos_are_framed_like_the_folder_loader_and_masks_follow_them(tmp_path: Path) -> None:
    save(tmp_path / "cat" / "a.jpg", photo(64, 64, 1))
    save(tmp_path / "cat" / "b.png", photo(200, 100, 2))
    save(tmp_path / "dog" / "c.png", photo(50, 50, 3))
    save(tmp_path / "masks" / "cat" / "a.png", left_mask(64, 64, 16))
    save(tmp_path / "masks" / "cat" / "b.png", left_mask(200, 100, 100))  # the left half of a wide photo
    images = load_mask_folders(tmp_path)
    assert images.classes == ("cat", "dog") and images.files == ("cat/a.jpg", "cat/b.png", "dog/c.png")
    assert images.labels.tolist() == [0, 0, 1] and not images.problems
    # the photos: exactly what the folder loader gives for the same files (masks/ not a class here)
    reference = load_folder(_without_masks(tmp_path), 128)
    assert torch.equal(images.frames, reference.frames)
    masks = images.masks
    assert masks is not None and masks.shape == (3, 128, 128) and masks.dtype == torch.bool
    assert masks[0, :, :32].all() and not masks[0, :, 32:].any()  # 16 of 64 columns -> 32 of 128
    # 200x100 -> 256x128, centre crop columns 64..192: the mask's edge (column 128 of 256) is at 64
    assert masks[1, :, :64].all() and not masks[1, :, 64:].any()
    assert not masks[2].any()  # no mask: no region


def _without_masks(root: Path) -> Path:
    view = root.parent / f"{root.name}-classes"
    for cls in ("cat", "dog"):
        (view / cls).mkdir(parents=True, exist_ok=True)
        for f in (root / cls).iterdir():
            (view / cls / f.name).write_bytes(f.read_bytes())
    return view


def test_stretch_frames_the_mask_by_stretching_too(tmp_path: Path) -> None:
    save(tmp_path / "cat" / "b.png", photo(200, 100))
    save(tmp_path / "masks" / "cat" / "b.png", left_mask(200, 100, 50))
    images = load_mask_folders(tmp_path, Preprocess(size=64, resize="stretch"))
    assert images.frames.shape == (1, 3, 64, 64)
    assert images.masks is not None and images.masks[0, :, :16].all() and not images.masks[0, :, 16:].any()


def test_bad_photos_are_skipped_and_bad_masks_named(tmp_path: Path) -> None:
    save(tmp_path / "cat" / "a.png", photo(40, 40))
    save(tmp_path / "cat" / "b.png", photo(40, 40))
    (tmp_path / "dog").mkdir()
    (tmp_path / "dog" / "broken.jpg").write_bytes(b"not a jpeg")
    save(tmp_path / "masks" / "cat" / "a.png", left_mask(30, 30, 10))  # the wrong size
    (tmp_path / "masks" / "cat" / "b.png").write_bytes(b"no png")
    images = load_mask_folders(tmp_path)
    assert images.files == ("cat/a.png", "cat/b.png") and images.skipped == ("dog/broken.jpg",)
    assert len(images.problems) == 3 and all("\n" not in p for p in images.problems)
    assert images.problems[0].startswith("masks/cat/a.png: the mask is 30×30 but its photo is 40×40")
    assert images.problems[1].startswith("masks/cat/b.png: ")
    assert images.problems[2].startswith("dog/broken.jpg: ")
    assert images.masks is not None and not images.masks.any()  # both kept, without a region


def test_no_masks_folder_means_no_masks_and_no_classes_is_an_error(tmp_path: Path) -> None:
    save(tmp_path / "cat" / "a.png", photo(40, 40))
    assert load_mask_folders(tmp_path).masks is None
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no class folders"):
        load_mask_folders(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        load_mask_folders(tmp_path / "missing")


def test_the_other_layouts_go_to_the_general_loader() -> None:
    assert not has_mask_layout(BUILTIN_DIR)  # a MANIFEST.csv
    images = load_dataset(BUILTIN_DIR, Preprocess(size=32))
    assert images.frames.shape[-1] == 32 and set(images.classes) == {"cat", "dog"}
