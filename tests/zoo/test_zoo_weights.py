"""The committed zoo weights load and reproduce their model cards' clean-test accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from saliency_core import zoo
from saliency_core.data.demo import demo_split, load_demo_images
from saliency_core.zoo.train import predict

INSTALLED = zoo.names()  # exactly the models whose weights are committed


def test_every_weight_file_has_a_card() -> None:
    for weights in zoo.WEIGHTS_DIR.glob("*.safetensors"):
        assert weights.with_suffix(".json").is_file(), f"{weights.name} has no model card"
        assert weights.stem in zoo.RECIPES
    assert set(INSTALLED) <= set(zoo.RECIPES)


def test_unknown_model_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown zoo model"):
        zoo.load("watermark-33")
    with pytest.raises(ValueError, match="unknown zoo model"):
        zoo.load(["normal"])  # type: ignore[arg-type]


@pytest.mark.parametrize("name", INSTALLED)
def test_card_describes_the_training(name: str) -> None:
    card = zoo.card(name)
    for key in ("seed", "epochs_run", "wall_time_s", "train_seconds", "schedule", "architecture", "heldout", "data"):
        assert key in card, f"{name} card lacks {key}"
    assert not card["quick"]
    for held_out in ("kaggle", "oxford"):  # both held-out sets, per quadrant with n
        quadrants = card["heldout"][held_out]["quadrants"]
        assert set(quadrants) == {"cat with watermark", "cat without watermark",
                                  "dog with watermark", "dog without watermark"}
        assert all(q["n"] > 0 for q in quadrants.values())


def test_committed_weights_fit_the_budget() -> None:
    total = sum(p.stat().st_size for p in zoo.WEIGHTS_DIR.glob("*.safetensors"))
    assert total <= 40e6, f"zoo weights {total / 1e6:.1f} MB > 40 MB"


@pytest.fixture(scope="module")
def clean_test(data_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The 400 clean demo test images and labels (decoded once for all models)."""
    images = load_demo_images(data_dir)
    test = demo_split(images).test
    return images.images(test), images.labels[test]


@pytest.mark.parametrize("name", INSTALLED)
def test_weights_reproduce_card_accuracy(name: str, clean_test: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = clean_test
    model = zoo.load(name)
    assert not model.training
    with torch.no_grad():
        accuracy = float((predict(model, x) == y).float().mean())
    assert abs(accuracy - zoo.card(name)["heldout"]["kaggle"]["clean_accuracy"]) <= 0.01
