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
        assert torch.equal(quadrants.images[q], audit.images[a]), image_id
        assert torch.equal(quadrants.boxes[q], audit.boxes[a]), image_id
    for image_id in pairs.ids:
        assert torch.equal(pairs.images[pairs.index(image_id)], quadrants.images[quadrants.index(image_id)])
