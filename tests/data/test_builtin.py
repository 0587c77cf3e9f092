"""The built-in photos (``saliency_core/data/builtin_photos``): intact, balanced, licensed, shipped
as package data, loaded with aligned pet masks, and the demo's photos when nothing is configured."""

from __future__ import annotations

import hashlib
import sys
import tomllib
from collections import Counter
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
import torch
from PIL import Image

from saliency_core.data import BUILTIN_DIR, data_dir
from saliency_core.data.builtin import builtin_manifest, is_builtin, load_builtin, verify_builtin
from saliency_core.data.demo import demo_test_set, held_out_images, load_demo_images
from saliency_core.data.frame import mask_frame
from saliency_core.data.loaders import load_any, load_manifest
from saliency_core.data.quadrants import first_of_each, load_held_out, marked_photos

REPO = Path(__file__).resolve().parents[2]
BUDGET = 15_000_000  # bytes in git for the whole folder (the limit)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return builtin_manifest()


@pytest.fixture(scope="module")
def builtin() -> object:
    return load_builtin()


def test_every_file_matches_its_manifest_sha256(rows: list[dict[str, str]]) -> None:
    assert verify_builtin() == []
    listed = {r["file"] for r in rows} | {r["mask_file"] for r in rows}
    on_disk = {p.relative_to(BUILTIN_DIR).as_posix() for p in BUILTIN_DIR.rglob("*") if p.is_file()}
    assert on_disk - listed == {"MANIFEST.csv", "LICENSE.md", "ATTRIBUTION.md"}  # nothing unlisted
    row = rows[0]
    assert hashlib.sha256((BUILTIN_DIR / row["file"]).read_bytes()).hexdigest() == row["sha256"]


def test_balanced_classes_all_breeds_held_out_and_within_budget(rows: list[dict[str, str]]) -> None:
    species = Counter(r["species"] for r in rows)
    assert species == {"cat": 440, "dog": 440}
    assert len({r["breed"] for r in rows}) == 37
    assert {r["split"] for r in rows} == {"test"}  # the zoo never trains on them
    assert [r["species"] for r in rows] == ["cat"] * 440 + ["dog"] * 440  # position = watermark seed
    assert len({r["breed"] for r in rows[:12]}) == 12  # breeds in turn: the first cats show them all
    assert all(r["width"] == r["height"] and 100 <= int(r["width"]) <= 256 for r in rows)
    total = sum(p.stat().st_size for p in BUILTIN_DIR.rglob("*") if p.is_file())
    assert total <= BUDGET, f"{total / 1e6:.1f} MB"


def test_licence_and_attribution_sit_beside_the_photos() -> None:
    licence = (BUILTIN_DIR / "LICENSE.md").read_text()
    attribution = (BUILTIN_DIR / "ATTRIBUTION.md").read_text()
    assert "CC BY-SA 4.0" in licence and "creativecommons.org/licenses/by-sa/4.0" in licence
    assert "does **not** apply" in licence and "Apache-2.0" in licence  # kept apart from the code's licence
    assert "Parkhi" in attribution and "robots.ox.ac.uk/~vgg/data/pets" in attribution
    assert "Modified: resized and re-encoded by Saliency Lab" in attribution
    assert "research purposes" in attribution  # the older README's note, kept
    assert "copyright remains" in attribution.lower()


def test_the_photos_are_package_data() -> None:
    """pyproject's package-data globs cover every file, so `pip install` ships them."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["saliency_core"]
    package = REPO / "saliency_core"
    for path in BUILTIN_DIR.rglob("*"):
        if path.is_file():
            rel = PurePosixPath(path.relative_to(package).as_posix())
            assert any(rel.match(p) for p in patterns), rel
    assert not (BUILTIN_DIR / "__init__.py").exists()


def test_masks_are_trimaps_the_size_of_their_photos(rows: list[dict[str, str]]) -> None:
    for row in rows[::40]:
        with Image.open(BUILTIN_DIR / row["file"]) as photo, Image.open(BUILTIN_DIR / row["mask_file"]) as mask:
            assert photo.size == mask.size == (int(row["width"]), int(row["height"]))
            values = set(np.unique(np.asarray(mask)).tolist())
        assert values <= {1, 2, 3} and 1 in values and 2 in values, (row["mask_file"], values)
        assert (3 in values) == row["mask_kind"].startswith("oxford_trimap"), row["mask_file"]


def test_load_builtin_gives_frames_with_aligned_pet_masks(builtin: object, rows: list[dict[str, str]]) -> None:
    images = builtin
    assert images.frames.shape == (880, 3, 128, 128) and images.frames.dtype == torch.uint8
    assert images.masks is not None and images.masks.shape == (880, 128, 128) and images.masks.dtype == torch.bool
    assert images.labels.bincount().tolist() == [440, 440]
    assert images.files == tuple(r["file"] for r in rows)
    share = images.masks.float().mean(dim=(1, 2))
    assert bool((share > 0.02).all()) and bool((share < 1).all())  # a pet, and some background, in every frame
    for i in (0, 439, 440, 879):  # the same crop and resize as the photo (mask_frame), at the frame size
        with Image.open(BUILTIN_DIR / rows[i]["mask_file"]) as m:
            assert torch.equal(images.masks[i], torch.from_numpy(mask_frame(np.asarray(m), 128) != 2))
    # the pet is where the photo is: the masked pixels differ from the background ones
    frame = images.frames[0].float()
    pet, rest = images.masks[0], ~images.masks[0]
    assert (frame[:, pet].mean(1) - frame[:, rest].mean(1)).abs().max() > 5


def test_other_frame_sizes_and_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         rows: list[dict[str, str]]) -> None:
    subset = load_manifest(BUILTIN_DIR / "MANIFEST.csv", 224, rows[:6])
    assert subset.frames.shape == (6, 3, 224, 224) and subset.masks.shape == (6, 224, 224)
    monkeypatch.setenv("SALIENCY_CACHE", str(tmp_path))
    first = load_builtin(32)
    assert list((tmp_path / "frames").glob("builtin-*-32.npz"))
    again = load_builtin(32)  # from the cache
    assert torch.equal(first.frames, again.frames) and torch.equal(first.masks, again.masks)
    assert again.files == first.files and torch.equal(again.labels, first.labels)


def test_load_any_reads_the_folder_with_its_masks(rows: list[dict[str, str]]) -> None:
    images = load_any(BUILTIN_DIR, size=16)
    assert len(images) == 880 and images.masks is not None and images.masks.shape == (880, 16, 16)


def test_the_builtin_photos_are_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SALIENCY_DATA", raising=False)
    assert data_dir() == BUILTIN_DIR and is_builtin(data_dir())
    monkeypatch.setenv("SALIENCY_DATA", str(tmp_path))
    assert data_dir() == tmp_path and not is_builtin(tmp_path)


def test_held_out_is_every_builtin_photo_with_its_pet_mask(builtin: object) -> None:
    images, test = held_out_images(BUILTIN_DIR)
    assert test.tolist() == list(range(880))  # manifest order: cats, then dogs
    photos = load_held_out(BUILTIN_DIR)
    assert photos.labels == ("cat",) * 440 + ("dog",) * 440
    assert photos.pet_masks is not None and torch.equal(photos.pet_masks, builtin.masks)
    chosen = first_of_each(photos, 2)
    assert chosen == {"cat": [0, 1], "dog": [440, 441]}
    rows = marked_photos(photos, [(441, True), (0, False)])
    assert rows.pet_masks is not None and torch.equal(rows.pet_masks[0], builtin.masks[441])
    assert rows.masks[0].any() and not rows.masks[1].any()  # the watermark's own mask is separate


def test_the_zoo_evaluation_and_the_builder_agree_on_the_builtin_photos() -> None:
    quadrants = demo_test_set(BUILTIN_DIR)
    photos = load_held_out(BUILTIN_DIR)
    n = len(photos.files)
    assert quadrants.images.shape[0] == 2 * n == 1760
    rows = marked_photos(photos, [(p, True) for p in (0, 500, n - 1)])
    for k, position in enumerate((0, 500, n - 1)):
        assert torch.equal(rows.images[k], quadrants.images[n + position])
        assert torch.equal(rows.boxes[k].long(), quadrants.boxes[n + position])


def test_the_builtin_photos_are_never_training_data() -> None:
    with pytest.raises(ValueError, match="held-out test set"):
        load_demo_images(BUILTIN_DIR)


def test_the_build_script_selects_balanced_breeds_in_turn() -> None:
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import build_photo_set as tool
    finally:
        sys.path.remove(str(REPO / "tools"))
    source = [{"file": f"images/{b}_{i}.jpg", "species": s, "breed": b, "width": str(100 + i), "height": "300"}
              for s, b, n in (("cat", "Bengal", 5), ("cat", "Sphynx", 2), ("dog", "pug", 3)) for i in range(1, n + 1)]
    chosen = tool.display_order(tool.select(source))
    assert Counter(r["species"] for r in chosen) == {"cat": 3, "dog": 3}
    # the surplus cats come from the largest breed, smallest photos first; then breeds take turns
    assert [r["file"] for r in chosen] == ["images/Bengal_5.jpg", "images/Sphynx_1.jpg", "images/Sphynx_2.jpg",
                                           "images/pug_1.jpg", "images/pug_2.jpg", "images/pug_3.jpg"]
