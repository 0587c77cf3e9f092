"""The demo split and the four-quadrant test set on the real photos (SALIENCY_DATA)."""

from __future__ import annotations

from pathlib import Path

import torch

from saliency_core.artefacts import watermark
from saliency_core.data.demo import QUADRANTS, demo_split, load_demo_images, quadrant_set


def test_split_and_quadrants(data_dir: Path) -> None:
    images = load_demo_images(data_dir)
    split = demo_split(images)
    again = demo_split(load_demo_images(data_dir))  # second load comes from the frame cache
    assert all(torch.equal(a, b) for a, b in zip((split.train, split.val, split.test),
                                                 (again.train, again.val, again.test)))
    test = set(split.test.tolist())
    assert len(test) == 400 and not test & set(split.train.tolist()) and not test & set(split.val.tolist())
    assert len(split.train) + len(split.val) + len(test) == len(images)
    assert all(images.splits[i] == "test" for i in test)
    assert (images.labels[split.test] == 0).sum() == 200

    quads = quadrant_set(images, split.test[::20])  # 20 photos keep this quick
    assert quads.images.shape == (40, 3, 128, 128)
    assert [len(quads.quadrant(s, m)) for s, m in QUADRANTS] == [10, 10, 10, 10]
    n = 20
    assert torch.equal(quads.images[:n], images.images(split.test[::20]))
    for j in range(n):  # the same photo, clean and watermarked with seed = its position
        assert torch.equal(quads.images[n + j], watermark(quads.images[j], seed=j)[0])
        x0, y0, x1, y1 = quads.boxes[n + j].tolist()
        assert x1 <= 64 and y0 >= 96
        changed = (quads.images[n + j] != quads.images[j]).any(0)
        outside = changed.clone()
        outside[y0:y1, x0:x1] = False
        assert not outside.any(), "every changed pixel lies in the box"
