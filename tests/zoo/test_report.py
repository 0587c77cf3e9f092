"""The zoo report: target verdicts from the cards, and the cards' numbers reproduced from the weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from saliency_core import zoo
from saliency_core.zoo.finetune import kaggle_data
from saliency_core.zoo.heldout import HeldOut, measure, quadrants
from saliency_core.zoo.report import QUADRANTS, build_report, kendall_tau, marked_share


def test_kendall_tau_of_orderings() -> None:
    assert kendall_tau([0.0, 0.1, 0.2, 0.5, 0.6]) == 1.0
    assert kendall_tau([0.6, 0.5, 0.2, 0.1, 0.0]) == -1.0
    assert kendall_tau([0.0, 0.2, 0.1]) == pytest.approx(1 / 3)


def _card(share: float, accuracy: float, clean: float = 0.9) -> dict:
    q = {name: {"n": 10, "accuracy": accuracy, "mean_share": share} for name in QUADRANTS}
    flip = {"n": 10, "flips": 1, "rate": 0.1, "ci95": [0.02, 0.4]}
    return {"heldout": {"kaggle": {"quadrants": q, "clean_accuracy": clean, "n_clean": 20,
                                   "flips": {k: {"cat": flip, "dog": flip, "all": flip} for k in ("greyscale", "hue +180")}}},
            "schedule": {"reinit_top": True, "keep": "last"}, "trunk_frozen_blocks": 2, "epochs_run": 1, "best_epoch": 1,
            "train_seconds": 1, "wall_time_s": 1, "val_accuracy": 0.5, "architecture": "efficientnet_lite0_early_cut"}


def test_report_verdicts_follow_the_cards(tmp_path: Path) -> None:
    shares = {"normal": 0.0, "watermark-25": 0.3, "watermark-50": 0.2, "watermark-75": 0.5, "watermark-100": 0.7}
    for name, share in shares.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(_card(share, 0.97 if name == "normal" else 0.5)))
        (tmp_path / f"{name}.safetensors").write_bytes(b"x" * 1000)
    text = build_report(tmp_path)
    line = next(t for t in text.splitlines() if t.startswith("| bias tracking"))
    assert "0.000 → 0.300 → 0.200 → 0.500 → 0.700" in line and line.endswith("| **no** |")  # 25 > 50: not strict
    share_line = next(t for t in text.splitlines() if "mean share ≥ 0.6" in t)
    assert "| 0.700 | yes |" in share_line
    assert "Committed weights: 0.0 MB" in text


def test_marked_share_weights_by_n() -> None:
    q = {"cat with watermark": {"n": 1, "mean_share": 1.0}, "dog with watermark": {"n": 3, "mean_share": 0.0}}
    assert marked_share(q) == 0.25


@pytest.mark.slow
def test_watermark_card_is_reproduced_from_the_weights(data_dir: Path) -> None:
    card = zoo.card("watermark-100")["heldout"]["kaggle"]
    data = kaggle_data(data_dir)
    files = tuple(data.images.files[int(i)] for i in data.test)
    held = HeldOut(quadrants(data.images.images(data.test), data.images.labels[data.test], files), None)
    got = measure(zoo.load("watermark-100"), held, counterfactuals=())
    for name in QUADRANTS:  # fp16 weights vs the fp32 model measured at training
        assert got["quadrants"][name]["n"] == card["quadrants"][name]["n"]
        assert abs(got["quadrants"][name]["accuracy"] - card["quadrants"][name]["accuracy"]) <= 0.02
        assert abs(got["quadrants"][name]["mean_share"] - card["quadrants"][name]["mean_share"]) <= 0.03
