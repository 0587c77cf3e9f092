"""The demo audit report (``saliency_core.audit.report``): every table, from models and a test set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from torch import nn

import saliency_core
from saliency_core.artefacts import box_of, watermark, watermark_region
from saliency_core.audit import AuditData, AuditReport, build_report, demo_audit_data
from saliency_core.audit.report import SIGMAS, TABLES

SIZE = 64  # small images: the artefacts scale with the frame


class SmallCNN(nn.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.head(x.mean(dim=(2, 3)))


def small_data(per_class: int = 4) -> AuditData:
    """``per_class`` cats and dogs, all clean, then the same watermarked (as the demo's layout)."""
    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(2 * per_class, 3, SIZE, SIZE, generator=generator)
    labels = torch.tensor([0] * per_class + [1] * per_class)
    marked = torch.stack([watermark(image, seed=i)[0] for i, image in enumerate(clean)])
    boxes = torch.tensor([box_of(watermark_region(SIZE, SIZE, seed=i)) for i in range(len(clean))],
                         dtype=torch.float32)
    n = len(clean)
    return AuditData(images=torch.cat([clean, marked]), labels=torch.cat([labels, labels]),
                     marked=torch.tensor([False] * n + [True] * n), boxes=torch.cat([boxes, boxes]),
                     ids=tuple(f"{i}{'|watermark' if m else ''}" for m in (False, True) for i in range(n)))


def test_every_table_for_every_model() -> None:
    models = {"normal": SmallCNN(0).eval(), "other": SmallCNN(1).eval()}
    data = small_data()
    steps: list[tuple[float, str]] = []
    report = build_report(models, data, progress=lambda f, text: steps.append((f, text)),
                          random_model=SmallCNN(2).eval())
    assert isinstance(report, AuditReport)
    tables = report.tables()
    assert tuple(tables) == TABLES and all(isinstance(t, pd.DataFrame) for t in tables.values())
    assert len(report.audit) == len(data.ids) * len(models)
    assert report.audit["correct"].equals(report.audit["prediction"] == report.audit["truth"])
    assert set(report.global_saliency["statistic"]) == {"share", "n", "m"}
    assert set(report.global_saliency["class"]) == {"cat", "dog"}
    assert list(report.aurrac["model"]) == list(models)
    assert set(report.response_curve["model"]) == set(models)
    assert set(report.sanity["test"]) == {"cascading", "data"}  # data randomisation: random_model given
    assert sorted(set(report.core_spurious["sigma"])) == sorted(SIGMAS)
    flips = report.counterfactual
    assert set(flips["transform"]) == {"greyscale", "hue shift 180°", "add cage bars", "add watermark"}
    assert (flips["n"] == 4).all()  # the clean photos of each class
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_saliency_goes_through_the_given_explain() -> None:
    """The caller's ``explain`` (e.g. one that holds a model's lock) computes every map."""
    models = {"normal": SmallCNN(0).eval()}
    seen: list[tuple[Any, str]] = []

    def explain(model: nn.Module, images: torch.Tensor, method: str, **options: Any) -> Any:
        seen.append((model, method))
        return saliency_core.explain(model, images, method, **options)

    build_report(models, small_data(2), explain=explain, method="vanilla_gradient",
                 sanity_method="gradient_squared", sigmas=(0.0,))
    methods = {method for _, method in seen}
    assert methods == {"vanilla_gradient", "gradient_squared"}  # the audit's and the sanity checks'
    assert any(model is models["normal"] for model, _ in seen)


def test_demo_audit_data_is_each_photo_clean_then_watermarked(data_dir: Path) -> None:
    data = demo_audit_data(data_dir, per_class=2)
    assert data.images.shape == (8, 3, 128, 128)
    assert data.labels.tolist() == [0, 0, 1, 1, 0, 0, 1, 1]
    assert data.marked.tolist() == [False] * 4 + [True] * 4
    assert [i.endswith("|watermark") for i in data.ids] == data.marked.tolist()
    assert data.ids[4:] == tuple(f"{i}|watermark" for i in data.ids[:4])
    assert torch.equal(data.boxes[:4], data.boxes[4:])  # where the mark is, or would be
    assert not torch.equal(data.images[:4], data.images[4:])


def test_a_model_mapping_is_required() -> None:
    with pytest.raises(ValueError, match="no models"):
        build_report({}, small_data(1))
