"""Core/spurious accuracy on a model that only looks at one region."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from saliency_core.metrics import core_spurious_accuracy


class PatchModel(nn.Module):
    """Class 1 when the red mean of the 2x2 top-left patch exceeds 0.5: sees nothing else."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = x[:, 0, :2, :2].mean(dim=(1, 2)) - 0.5
        return torch.stack([-score, score], 1)


def test_noise_on_the_region_the_model_uses_hurts_and_elsewhere_does_not() -> None:
    labels = torch.arange(64) % 2
    images = torch.full((64, 3, 12, 12), 0.5)
    images[:, 0, :2, :2] = torch.where(labels == 1, 0.6, 0.4)[:, None, None]
    patch = torch.tensor([0, 0, 2, 2])
    table = core_spurious_accuracy(PatchModel(), images, labels, patch, [0.0, 0.5, 2.0], seed=3)
    acc = table.set_index(["sigma", "region"])["accuracy"]
    assert acc[(0.0, "spurious")] == acc[(0.0, "core")] == 1.0
    assert acc[(2.0, "spurious")] < 0.8
    assert acc[(0.5, "core")] == acc[(2.0, "core")] == 1.0
    assert len(table) == 6 and set(table["n"]) == {64}


def test_a_whole_image_spurious_mask_leaves_no_core_region() -> None:
    with pytest.raises(ValueError, match="no core region"):
        core_spurious_accuracy(PatchModel(), torch.rand(2, 3, 8, 8), torch.zeros(2),
                               torch.ones(2, 8, 8), [1.0])


def test_negative_sigma_raises_value_error() -> None:
    with pytest.raises(ValueError, match="sigmas"):
        core_spurious_accuracy(PatchModel(), torch.rand(2, 3, 8, 8), torch.zeros(2),
                               torch.tensor([0, 0, 2, 2]), [-1.0])


def test_soft_mask_weights_scale_the_noise() -> None:
    labels = torch.arange(64) % 2
    images = torch.full((64, 3, 12, 12), 0.5)
    images[:, 0, :2, :2] = torch.where(labels == 1, 0.6, 0.4)[:, None, None]
    full, faint = torch.zeros(64, 12, 12), torch.zeros(64, 12, 12)
    full[:, :2, :2], faint[:, :2, :2] = 1.0, 0.01  # sigma * 0.01 cannot cross the 0.1 margin
    strong = core_spurious_accuracy(PatchModel(), images, labels, full, [2.0], seed=3)
    weak = core_spurious_accuracy(PatchModel(), images, labels, faint, [2.0], seed=3)
    assert strong.loc[strong["region"] == "spurious", "accuracy"].item() < 0.8
    assert weak.loc[weak["region"] == "spurious", "accuracy"].item() == 1.0


@pytest.mark.parametrize("label", [7, -1])
def test_core_spurious_accuracy_rejects_labels_outside_the_models_classes(label: int) -> None:
    """A label the 2-class model can never predict would silently score accuracy 0.0."""
    with pytest.raises(ValueError, match=rf"labels must be class indices in \[0, 2\).*got {label}"):
        core_spurious_accuracy(PatchModel(), torch.rand(2, 3, 8, 8), torch.tensor([0, label]),
                               torch.tensor([0, 0, 2, 2]), [1.0])


def test_core_spurious_accuracy_rejects_images_that_are_not_float32() -> None:
    with pytest.raises(ValueError, match="images must be float32"):
        core_spurious_accuracy(PatchModel(), torch.rand(2, 3, 8, 8).double(), torch.zeros(2, dtype=torch.long),
                               torch.tensor([0, 0, 2, 2]), [1.0])
