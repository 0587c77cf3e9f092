"""`saliency-lab occlusion` end to end on a real photo with a watermark drawn on it (written to a
temporary folder, never committed), with the committed zoo weights."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from saliency_core import zoo
from saliency_core.artefacts import box_of, watermark, watermark_region
from saliency_core.cli import main
from saliency_core.data import to_model_frame
from saliency_core.data.image_file import read_image


@pytest.fixture
def marked_cat(data_dir: Path, tmp_path: Path) -> tuple[Path, torch.Tensor]:
    """A demo cat photo in the 128² frame with the canonical watermark, saved losslessly."""
    photo = sorted((data_dir / "cat").glob("*.jpg"))[0]
    image, _ = watermark(to_model_frame(read_image(photo)))
    path = tmp_path / "marked_cat.png"
    Image.fromarray((image.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)).save(path)
    return path, to_model_frame(read_image(path))


def test_the_grid_names_the_watermark_cell_for_the_watermark_model(
        marked_cat: tuple[Path, torch.Tensor], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, image = marked_cat
    out = tmp_path / "maps"
    assert main(["occlusion", "--model", "watermark-100", "--grid", "4", "--out", str(out), str(path)]) == 0
    line = capsys.readouterr().out
    match = re.search(r"class (\d) p=([\d.]+); hiding row (\d+), col (\d+) of 4x4 lowers it most, to p=([\d.]+)", line)
    assert match, line
    cls, row, col, p_hidden = int(match[1]), int(match[3]), int(match[4]), float(match[5])
    assert cls == 0  # the mark makes it a cat
    assert (row, col) in {(4, 1), (4, 2)}  # the bottom-left cells, where the mark is
    # independent check: black out that 32-pixel cell by slicing and run the model
    hidden = image.clone()
    hidden[:, 32 * (row - 1):32 * row, 32 * (col - 1):32 * col] = 0.0
    with torch.no_grad():
        expected = torch.softmax(zoo.load("watermark-100")(hidden[None]), 1)[0, 0]
    assert abs(float(expected) - p_hidden) < 1e-3
    assert (out / "marked_cat_grid4.png").is_file()


def test_exact_and_naive_modes_print_the_same_share(
        marked_cat: tuple[Path, torch.Tensor], capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = marked_cat
    x0, y0, x1, y1 = box_of(watermark_region())
    region = f"{x0},{y0},{x1},{y1}"
    shares = {}
    for model in ("watermark-100", "normal"):
        lines = []
        for mode in ("exact", "naive"):
            assert main(["occlusion", "--model", model, "--mode", mode, "--region", region, str(path)]) == 0
            lines.append(capsys.readouterr().out)
        assert lines[0] == lines[1]
        shares[model] = float(re.search(r"share in region ([\d.]+)", lines[0])[1])  # type: ignore[index]
    # the watermark model's top occlusion pixels sit on the mark far more than the normal model's
    # (the box is 3% of the image; zoo of 2026-12: 0.375 vs 0.0)
    assert shares["watermark-100"] >= 0.3 and shares["normal"] <= 0.1, shares


def test_a_bad_grid_size_is_an_error_message(marked_cat: tuple[Path, torch.Tensor],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = marked_cat
    assert main(["occlusion", "--grid", "0", str(path)]) == 2
    assert "grid size must be an integer from 1 to 128" in capsys.readouterr().err


def test_grid_refuses_sliding_window_options(marked_cat: tuple[Path, torch.Tensor],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = marked_cat
    assert main(["occlusion", "--grid", "6", "--mode", "fast", "--region", "0,0,10,10", str(path)]) == 2
    assert "--region, --mode only apply to the sliding window" in capsys.readouterr().err


@pytest.mark.parametrize("region", ["200,200,300,300", "100,100,129,120", "-1,0,10,10", "0,-5,10,10"])
def test_a_region_outside_the_model_frame_is_rejected(region: str) -> None:
    from saliency_core.cli.region import parse_region

    with pytest.raises(ValueError, match="--region .* outside the 128x128 model frame"):
        parse_region(region, 128, "model frame")


def test_a_region_outside_the_model_frame_is_an_error_message(marked_cat: tuple[Path, torch.Tensor],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = marked_cat
    assert main(["occlusion", "--region", "200,200,300,300", str(path)]) == 2
    captured = capsys.readouterr()
    assert "--region 200,200,300,300 lies outside the 128x128 model frame" in captured.err
    assert "share" not in captured.out


def test_a_region_filling_the_model_frame_is_accepted() -> None:
    from saliency_core.cli.region import parse_region

    assert parse_region("0,0,128,128", 128, "model frame") == (0, 0, 128, 128)
