"""Every page shows a photo with the same watermark: the pages' demo sets and the audit report
are built by the library's one builder (``saliency_core.data.quadrants``)."""

from __future__ import annotations

from pathlib import Path

import torch

from dashboard.common.demo_sets import build_demo_set
from saliency_core.audit.report import demo_audit_data


def test_a_photo_has_the_same_mark_on_the_quadrants_page_and_in_the_audit(needs_data: Path) -> None:
    root = str(needs_data)
    quadrants = build_demo_set(root, 3, "both", "both")  # the Quadrants page's set (3 per quadrant)
    audit = demo_audit_data(needs_data, per_class=3)  # the Dataset audit page's set
    pairs = build_demo_set(root, 2, "pairs", "pairs")  # the Occlusion and Gradients pages' strip
    audit_by_id = {Path(i.split("|")[0]).stem + ("_wm" if i.endswith("|watermark") else ""): k
                   for k, i in enumerate(audit.ids)}
    shared = [image_id for image_id in quadrants.ids if image_id in audit_by_id]
    marked_dogs = [i for i, label, m in zip(quadrants.ids, quadrants.labels, quadrants.watermarked)
                   if label == "dog" and m]
    assert marked_dogs and set(marked_dogs) <= set(shared)  # the dogs' marks used to differ
    assert len(shared) == len(quadrants)
    for image_id in shared:
        q, a = quadrants.index(image_id), audit_by_id[image_id]
        assert torch.equal(quadrants.image(q), audit.images[a]), image_id
        assert torch.equal(quadrants.boxes[q], audit.boxes[a]), image_id
    for image_id in pairs.ids:
        assert torch.equal(pairs.image(pairs.index(image_id)), quadrants.image(quadrants.index(image_id)))


def test_a_set_kept_as_uint8_and_marks_gives_back_the_builders_float_pixels(needs_data: Path) -> None:
    from dashboard.common.demo_sets import pixels_digest
    from saliency_core.data.quadrants import first_of_each, load_held_out, marked_photos

    demo = build_demo_set(str(needs_data), 3, "both", "both")
    photos = load_held_out(needs_data)
    chosen = first_of_each(photos, 3)
    rows = [(p, m) for m in (True, False) for s in ("cat", "dog") for p in chosen[s]]
    expected = marked_photos(photos, rows).images
    assert demo.frames.dtype == torch.uint8 and demo.marks.dtype == torch.float32
    assert demo.marks.shape == (int(demo.masks.sum()), 3) and demo.marks.numel() > 0
    assert torch.equal(demo.images, expected)  # the same bits: cache keys (pixel digests) do not move
    assert demo.key[-1] == pixels_digest(expected)
    picks = [len(demo) - 1, 0, 4, 7]  # marked and clean rows, out of order
    assert torch.equal(demo.images_at(picks), expected[picks])
    assert torch.equal(demo.image(2), expected[2])
    part = demo.subset(picks)
    assert torch.equal(part.images, expected[picks]) and part.ids == tuple(demo.ids[i] for i in picks)
    assert torch.equal(demo.subset([]).images, expected[:0])
