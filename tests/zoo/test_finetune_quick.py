"""Zoo v2 (fine-tuned EfficientNet-Lite0) in quick mode: train, save only the top, reload, measure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from saliency_core.zoo.early_cut import EarlyCut
from saliency_core.zoo.efficientnet import EfficientNetLite0
from saliency_core.zoo.finetune import TRUNK, load_top, top_parameters, train_all, variant_images
from saliency_core.zoo.heldout import top_share


def test_top_share_matches_definition() -> None:
    maps = torch.zeros(2, 20, 20)
    maps[0, :2, :] = 1.0  # 40 hottest pixels in the top rows
    maps[1, 10:, 10:] = torch.arange(100, dtype=torch.float32).view(10, 10)
    boxes = torch.tensor([[0, 0, 10, 1], [15, 15, 20, 20]])
    share = top_share(maps, boxes, percent=5.0)  # k = 20 pixels; ties at the threshold count
    assert share[0] == pytest.approx(10 / 40)
    assert share[1] == pytest.approx(10 / 20)  # top 20 = image rows 18-19, cols 10-19; half in the box


def test_variants_keep_the_mark_in_place() -> None:
    from saliency_core.data.loaders import ImageSet

    frames = torch.full((2, 3, 128, 128), 90, dtype=torch.uint8)  # flat: shifts and flips change nothing
    images = ImageSet(frames=frames, labels=torch.tensor([0, 1]), files=("a", "b"), splits=("train", "train"))
    plain = variant_images(images, [0], "watermark", 0)
    shifted = variant_images(images, [0], "watermark", 3)
    # The mark is drawn after the flip + shift: the changed pixels of both are the same mark.
    from saliency_core.artefacts import watermark
    _, mask = watermark(images.images([0])[0], seed=0)
    assert mask.any() and torch.equal(plain[0], shifted[0])
    noisy = ImageSet(frames=(torch.rand(1, 3, 128, 128) * 255).byte(), labels=torch.tensor([0]), files=("c",), splits=("train",))
    assert not torch.equal(variant_images(noisy, [0], None, 3), noisy.images([0]))


@pytest.mark.slow
def test_quick_train_saves_only_the_top_and_reloads(data_dir: Path, tmp_path: Path) -> None:
    cards = train_all(data_dir, tmp_path, ["normal", "watermark-100"], quick=True, log=lambda s: None)
    assert set(cards) == {"normal", "watermark-100"}
    for name, architecture in (("normal", EfficientNetLite0), ("watermark-100", EarlyCut)):
        path = tmp_path / "weights" / f"{name}.safetensors"
        card = json.loads((tmp_path / "weights" / f"{name}.json").read_text())
        n = sum(v.numel() for v in top_parameters(architecture(), card["trunk_frozen_blocks"]).values())
        assert path.stat().st_size < 2.1 * n + 100_000  # fp16, the trained layers only
        assert isinstance(load_top(path), architecture)
    assert json.loads((tmp_path / "weights" / "normal.json").read_text())["trunk_frozen_blocks"] == TRUNK
    path = tmp_path / "weights" / "watermark-100.safetensors"
    card = json.loads((tmp_path / "weights" / "watermark-100.json").read_text())
    model = load_top(path)
    q = card["heldout"]["kaggle"]["quadrants"]
    assert sum(r["n"] for r in q.values()) == 16  # 4 + 4 quick test photos, clean and watermarked
    with torch.no_grad():
        assert model(torch.rand(2, 3, 128, 128)).shape == (2, 2)
    # Resumable: a second call finds both cards and trains nothing.
    again = train_all(data_dir, tmp_path, ["normal", "watermark-100"], quick=True, log=lambda s: None)
    assert again["watermark-100"]["train_seconds"] == card["train_seconds"]
