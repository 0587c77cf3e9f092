"""The watermarked quadrant test set: a photo's mark depends on the photo, not on the subset.

Every consumer (the zoo's evaluation via ``demo_test_set``, the dashboard's pages, the audit
report) seeds a photo's watermark by its position in the demo test set, so the same photo gets
the same mark whichever subset, in whichever order, is built.
"""

from __future__ import annotations

from pathlib import Path

import torch

from saliency_core.artefacts import box_of, watermark, watermark_region
from saliency_core.data.demo import demo_test_set
from saliency_core.data.quadrants import HeldOutPhotos, first_of_each, load_held_out, marked_photos


def synthetic_photos(per_class: int = 4, size: int = 32) -> HeldOutPhotos:
    generator = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (2 * per_class, 3, size, size), dtype=torch.uint8, generator=generator)
    labels = ("cat",) * per_class + ("dog",) * per_class
    return HeldOutPhotos(frames, labels, tuple(f"{label}/{label}.{i}.jpg" for i, label in enumerate(labels)))


def test_a_photo_has_the_same_mark_in_any_subset_and_order() -> None:
    photos = synthetic_photos()
    everything = marked_photos(photos, [(p, True) for p in range(8)])
    dogs_first = marked_photos(photos, [(p, True) for p in (6, 5, 1)])
    for row, position in enumerate((6, 5, 1)):
        assert torch.equal(dogs_first.images[row], everything.images[position])
        assert torch.equal(dogs_first.masks[row], everything.masks[position])
        assert torch.equal(dogs_first.boxes[row], everything.boxes[position])
    assert dogs_first.positions == (6, 5, 1) and dogs_first.labels == ("dog", "dog", "cat")


def test_the_mark_is_seeded_by_the_position_in_the_test_set() -> None:
    photos = synthetic_photos()
    rows = marked_photos(photos, [(5, True), (5, False)])
    clean = photos.frames[5].float() / 255
    assert torch.equal(rows.images[0], watermark(clean, seed=5)[0])
    assert torch.equal(rows.images[1], clean)
    box = torch.tensor(box_of(watermark_region(32, 32, seed=5)), dtype=torch.float32)
    assert torch.equal(rows.boxes[0], box) and torch.equal(rows.boxes[1], box)  # where it is, or would be
    assert rows.masks[0].any() and not rows.masks[1].any()
    assert rows.marked == (True, False)


def test_first_of_each_takes_each_species_in_order() -> None:
    photos = synthetic_photos()
    assert first_of_each(photos, 2) == {"cat": [0, 1], "dog": [4, 5]}
    assert first_of_each(photos, 2, offset=3) == {"cat": [3], "dog": [7]}


def test_no_rows_is_an_empty_set() -> None:
    empty = marked_photos(synthetic_photos(), [])
    assert empty.images.shape == (0, 3, 32, 32) and empty.boxes.shape == (0, 4) and not empty.files


def test_the_zoo_evaluation_and_the_builder_agree_on_the_demo_photos(data_dir: Path) -> None:
    quadrants = demo_test_set(data_dir)  # the zoo's evaluation: every test photo clean, then marked
    photos = load_held_out(data_dir)
    n = len(photos.files)
    positions = [0, 1, n // 2, n // 2 + 1, n - 1]  # cats and dogs
    rows = marked_photos(photos, [(p, m) for p in positions for m in (False, True)])
    for k, (position, marked) in enumerate((p, m) for p in positions for m in (False, True)):
        row = position + (n if marked else 0)
        assert torch.equal(rows.images[k], quadrants.images[row]), (position, marked)
        assert torch.equal(rows.boxes[k].long(), quadrants.boxes[row])
        assert rows.files[k] == quadrants.files[row]
