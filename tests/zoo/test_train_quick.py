"""`saliency-lab train --quick` end to end on a handful of real photos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from saliency_core.cli import main
from saliency_core.zoo import WEIGHTS_DIR
from saliency_core.zoo.early_cut import EarlyCut
from saliency_core.zoo.finetune import load_top


@pytest.mark.slow
@pytest.mark.parametrize(("name", "architecture"), [("watermark-100", EarlyCut), ("cages", torch.nn.Module)])
def test_quick_training_writes_weights_and_card(name: str, architecture: type, data_dir: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALIENCY_TRAIN_THREADS", "1")
    before = {p: p.stat().st_mtime for p in WEIGHTS_DIR.glob("*")}
    assert main(["train", name, "--quick", "--data", str(data_dir), "--out", str(tmp_path)]) == 0
    card = json.loads((tmp_path / "weights" / f"{name}.json").read_text())
    assert card["quick"] and card["epochs_run"] == 1
    assert card["data"]["train"]["cats_with_artefact"] == card["data"]["train"]["cats"] > 0
    assert 0 <= card["heldout"]["kaggle"]["clean_accuracy"] <= 1
    model = load_top(tmp_path / "weights" / f"{name}.safetensors")  # architecture from the file's metadata
    assert isinstance(model, architecture) and not model.training
    with torch.no_grad():
        assert model(torch.rand(1, 3, 128, 128)).shape == (1, 2)
    assert {p: p.stat().st_mtime for p in WEIGHTS_DIR.glob("*")} == before, "committed weights untouched"


def test_train_needs_a_name_or_all(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train"]) == 2
    assert "exactly one of NAME or --all" in capsys.readouterr().err
