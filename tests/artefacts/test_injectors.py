"""Artefact injectors: the region mask is exactly the changed pixels; seeded determinism."""

from __future__ import annotations

import pytest
import torch

from saliency_core.artefacts import box_of, cage, coat_colour, dark_watermark, watermark, watermark_region


def _photo(seed: int = 0, size: int = 128) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(3, size, size, generator=g) * 0.8 + 0.1


@pytest.mark.parametrize("inject", [watermark, dark_watermark, cage])
@pytest.mark.parametrize("seed", [None, 0, 7])
def test_mask_is_exactly_the_changed_pixels(inject, seed) -> None:
    image = _photo(3)
    before = image.clone()
    out, mask = inject(image, seed=seed)
    assert torch.equal(image, before), "the input must not be modified"
    assert mask.dtype == torch.bool and mask.shape == (128, 128)
    # Pixel by pixel in numpy, independently of the implementation's torch compare.
    changed = (out.numpy() != image.numpy()).any(axis=0)
    assert (mask.numpy() == changed).all()
    assert mask.any()
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("inject", [watermark, dark_watermark, cage])
def test_deterministic_under_a_seed(inject) -> None:
    image = _photo(1)
    a, ma = inject(image, seed=5)
    b, mb = inject(image, seed=5)
    assert torch.equal(a, b) and torch.equal(ma, mb)
    others = [inject(image, seed=s) for s in range(6, 12)]
    assert any(not torch.equal(a, o) for o, _ in others), "different seeds should vary the artefact"


def test_watermark_sits_bottom_left_and_is_light_or_dark() -> None:
    image = torch.full((3, 128, 128), 0.5)
    light, mask = watermark(image)
    dark, dmask = dark_watermark(image)
    x0, y0, x1, y1 = box_of(mask)
    assert x1 <= 64 and y0 >= 96, "the mark belongs in the bottom-left corner"
    assert torch.equal(mask, dmask)
    assert (light[:, mask] > 0.5).all() and (dark[:, dmask] < 0.5).all()
    assert 60 <= int(mask.sum()) <= (x1 - x0) * (y1 - y0)


def test_batch_matches_single_images() -> None:
    batch = torch.stack([_photo(s) for s in range(3)])
    out, masks = watermark(batch, seed=2)
    assert masks.shape == (3, 128, 128)
    for i in range(3):
        single, m = watermark(batch[i], seed=2)
        assert torch.equal(out[i], single) and torch.equal(masks[i], m)


def test_white_pixels_under_a_white_mark_are_not_in_the_mask() -> None:
    image = torch.ones(3, 128, 128)
    out, mask = watermark(image)
    assert torch.equal(out, image) and not mask.any()
    assert watermark_region(128, 128).any()  # the covered region is still known


def test_box_of() -> None:
    mask = torch.zeros(10, 12, dtype=torch.bool)
    mask[2:5, 3:9] = True
    mask[4, 10] = True
    assert box_of(mask) == (3, 2, 11, 5)
    with pytest.raises(ValueError, match="empty"):
        box_of(torch.zeros(4, 4, dtype=torch.bool))


def test_bad_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"\[3,H,W\]"):
        watermark(torch.rand(4, 32, 32))
    with pytest.raises(ValueError, match="float"):
        cage(torch.zeros(3, 32, 32, dtype=torch.uint8))


def _animal(rgb: tuple[float, float, float]) -> torch.Tensor:
    """A plain coloured 'animal' in the centre of a textured green background."""
    g = torch.Generator().manual_seed(0)
    image = torch.stack([torch.full((128, 128), 0.2), torch.full((128, 128), 0.6), torch.full((128, 128), 0.25)])
    image = (image + 0.05 * torch.rand(3, 128, 128, generator=g)).clamp(0, 1)
    image[:, 28:100, 32:96] = torch.tensor(rgb).view(3, 1, 1) + 0.02 * torch.rand(3, 72, 64, generator=g)
    return image.clamp(0, 1)


@pytest.mark.parametrize(("rgb", "expected"), [
    ((0.55, 0.33, 0.15), "brown"),       # HSV hue ~14 (OpenCV scale), saturated
    ((0.12, 0.12, 0.12), "grey_black"),  # black coat
    ((0.45, 0.45, 0.47), "grey_black"),  # grey coat
    ((0.95, 0.95, 0.95), "other"),       # white coat
    ((0.2, 0.3, 0.9), "other"),          # blue: neither
])
def test_coat_colour(rgb, expected) -> None:
    assert coat_colour(_animal(rgb)) == expected


def test_the_mark_is_drawn_as_the_zoo_learned_it() -> None:
    # The mark's text is OpenCV's Hershey font, whose rasterisation changed between releases
    # (4.x: 141 pixels, 5.1: 255); the zoo was trained on 5.0's. pyproject pins it exactly.
    mask = watermark_region()
    assert int(mask.sum()) == 247, "opencv-python-headless is not the pinned 5.0.0.93"
    assert box_of(mask) == (4, 113, 51, 124)
