"""`saliency-lab explain` end to end on a TorchScript file and generated images (never committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from method_models import SmallCNN
from PIL import Image

from saliency_core.cli import main
from saliency_core.cli.explain import parse_options

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, list[Path]]:
    torch.manual_seed(0)
    model_path = tmp_path / "model.pt"
    torch.jit.trace(SmallCNN().eval(), torch.rand(1, 3, 8, 8)).save(str(model_path))
    rng = np.random.default_rng(0)
    images = []
    for name in ("a.png", "b.jpg"):
        path = tmp_path / name
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(path)
        images.append(path)
    return model_path, images


def test_explain_writes_one_png_map_per_image(files: tuple[Path, list[Path]], tmp_path: Path) -> None:
    model_path, images = files
    out = tmp_path / "maps"
    argv = ["explain", "--model", str(model_path), "--method", "integrated_gradients", "--size", "16",
            "--option", "steps=4", "--option", "baseline=blurred", "--out", str(out), *map(str, images)]
    assert main(argv) == 0
    for image in images:
        with Image.open(out / f"{image.stem}_integrated_gradients.png") as saved:
            assert saved.size == (16, 16) and saved.mode == "L"
            assert np.asarray(saved).max() == 255  # scaled to the full range


def test_explain_reports_bad_input_as_an_error_message(
    files: tuple[Path, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path, images = files
    argv = ["explain", "--model", str(model_path), "--method", "vanilla_gradient", "--target", "7",
            "--out", str(tmp_path), str(images[0])]
    assert main(argv) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["explain", "--model", str(model_path), "--method", "lime", "--out", str(tmp_path), str(images[0])]) == 2
    assert "unknown saliency method 'lime'" in capsys.readouterr().err


def test_an_unknown_zoo_model_is_an_error_message(
    files: tuple[Path, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, images = files
    assert main(["explain", "--model", "no_such_model", "--out", str(tmp_path), str(images[0])]) == 2
    assert "no_such_model" in capsys.readouterr().err


def test_options_are_parsed_as_numbers_where_possible() -> None:
    assert parse_options(["steps=32", "stdev_spread=0.2", "baseline=blurred"]) == {
        "steps": 32, "stdev_spread": 0.2, "baseline": "blurred"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_options(["steps"])
