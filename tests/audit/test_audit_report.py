"""The demo audit report (``saliency_core.audit.report``): every table, from models and a test set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from torch import nn

import saliency_core
from saliency_core.artefacts import box_of, watermark, watermark_region
from saliency_core.audit import AuditData, AuditReport, build_report, demo_audit_data
from saliency_core.audit.report import PET_REGIONS, PET_STATISTICS, SIGMAS, TABLES, pet_region_saliency

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


# ------------------------------------------------------------------ the pet masks as data
def with_pet_masks(data: AuditData) -> AuditData:
    """``data`` with a pet mask (the left half of the frame) and the exact watermark pixels."""
    n = data.images.shape[0]
    pet = torch.zeros(n, SIZE, SIZE, dtype=torch.bool)
    pet[:, :, : SIZE // 2] = True
    marks = torch.stack([watermark(image, seed=i % (n // 2))[1] for i, image in enumerate(data.images)])
    marks[~data.marked] = False
    return AuditData(images=data.images, labels=data.labels, marked=data.marked, boxes=data.boxes,
                     ids=data.ids, pet_masks=pet, mark_masks=marks)


def test_a_map_all_on_the_animal_gives_share_one() -> None:
    maps = torch.zeros(2, 8, 8)
    pet = torch.zeros(2, 8, 8, dtype=torch.bool)
    pet[:, 2:6, 2:6] = True
    maps[pet] = torch.rand(int(pet.sum())) + 0.1
    out = pet_region_saliency(maps, pet, torch.zeros_like(pet))
    assert torch.allclose(out["animal"], torch.ones(2))
    assert torch.equal(out["watermark"], torch.zeros(2)) and torch.allclose(out["background"], torch.zeros(2))
    assert torch.allclose(out["animal_top"], torch.ones(2))
    assert torch.allclose(out["animal_area"], torch.full((2,), 16 / 64))


def test_region_shares_add_up_and_a_uniform_map_gives_the_areas() -> None:
    maps = torch.ones(1, 10, 10)
    pet = torch.zeros(1, 10, 10, dtype=torch.bool)
    pet[:, :, :5] = True  # half the frame
    mark = torch.zeros_like(pet)
    mark[:, 0:2, 0:10] = True  # 20 pixels, 10 of them over the animal
    out = pet_region_saliency(maps, pet, mark)
    assert out["animal"].item() == pytest.approx(40 / 100)  # the mark covers part of the animal
    assert out["watermark"].item() == pytest.approx(20 / 100)
    assert out["background"].item() == pytest.approx(40 / 100)
    assert out["animal_area"].item() == pytest.approx(0.4)
    zero = pet_region_saliency(torch.zeros(1, 10, 10), pet, mark)  # no saliency: no share anywhere
    assert all(zero[k].item() == 0 for k in ("animal", "watermark", "background"))


def test_pet_tables_with_masks_and_empty_without() -> None:
    models = {"normal": SmallCNN(0).eval(), "other": SmallCNN(1).eval()}
    report = build_report(models, with_pet_masks(small_data()), sigmas=(0.0, 0.4))
    pet = report.pet_saliency
    assert set(pet["model"]) == set(models) and set(pet["statistic"]) == set(PET_STATISTICS)
    assert set(pet["class"]) == {"cat", "dog", "all"} and set(pet["watermarked"]) == {False, True}
    assert ((pet["mean"] >= 0) & (pet["mean"] <= 1)).all()
    overall = pet[pet["class"] == "all"].set_index(["model", "watermarked", "statistic"])["mean"]
    for name in models:
        for marked in (False, True):
            assert sum(overall[(name, marked, r)] for r in PET_REGIONS) == pytest.approx(1.0, abs=1e-6)
            assert overall[(name, marked, "animal_area")] <= 0.5
        assert overall[(name, False, "watermark")] == 0  # clean photos have no mark
    core = report.pet_core_spurious
    assert set(core["region"]) == {"core", "spurious"} and set(core["model"]) == set(models)
    at_zero = core[core["sigma"] == 0.0]  # no noise: both regions give the plain accuracy
    for name in models:
        assert at_zero[at_zero["model"] == name]["accuracy"].nunique() == 1
    plain = build_report({"normal": SmallCNN(0).eval()}, small_data(), sigmas=(0.0,))
    assert plain.pet_saliency.empty and plain.pet_core_spurious.empty
    assert list(plain.pet_saliency.columns) == list(pet.columns)


def test_pet_shares_do_not_depend_on_how_the_audit_batches() -> None:
    """The shares come from the audit's own maps (found by image content) or, if it never saw an
    image, from explaining it again: the same numbers either way."""
    data = with_pet_masks(small_data())
    models = {"normal": SmallCNN(0).eval()}
    calls: list[int] = []

    def counting(model: nn.Module, images: torch.Tensor, method: str, **options: Any) -> Any:
        if method == "gradient_squared":  # the audit's method (the sanity checks use another)
            calls.append(images.shape[0])
        return saliency_core.explain(model, images, method, **options)

    first = build_report(models, data, explain=counting, sigmas=(0.0,))
    audit_calls = sum(calls)
    assert audit_calls == len(data.ids)  # each image explained once: no second pass for the shares
    import saliency_core.audit.report as report_module

    lookups = report_module._digest
    try:  # the audit's maps are never matched: every share is computed by the fallback pass
        report_module._digest = lambda image: os.urandom(16)  # type: ignore[assignment]
        second = build_report(models, data, sigmas=(0.0,))
    finally:
        report_module._digest = lookups
    pd.testing.assert_frame_equal(first.pet_saliency, second.pet_saliency)


def test_demo_audit_data_carries_the_built_in_pet_masks() -> None:
    from saliency_core.data import BUILTIN_DIR

    data = demo_audit_data(BUILTIN_DIR, per_class=2)
    assert data.pet_masks is not None and data.pet_masks.shape == (8, 128, 128)
    assert data.mark_masks is not None and not data.mark_masks[:4].any() and data.mark_masks[4:].any()
    assert torch.equal(data.pet_masks[:4], data.pet_masks[4:])
