"""`saliency-lab audit` end to end on a tiny folder and a TorchScript model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from saliency_core.audit import read_table
from saliency_core.cli import main


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for name, colour in [("cat", (200, 30, 30)), ("dog", (30, 200, 30))]:
        (root / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (12, 12), colour).save(root / name / f"{i}.png")
    return root


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated, still supported
def test_audit_command_writes_the_table_and_prints_the_summary(
    tiny_cnn: nn.Module, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path = tmp_path / "tiny.pt"
    torch.jit.trace(tiny_cnn, torch.rand(1, 3, 16, 16)).save(str(model_path))
    out = tmp_path / "results.csv"
    argv = ["audit", "--model", str(model_path), "--method", "vanilla_gradient", "--data", str(folder),
            "--region", "0,0,8,8", "--size", "16", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "4 rows" in printed
    table = read_table(out)
    assert table is not None and len(table) == 4 and table["share"].between(0, 1).all()


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--region", "0,0,8"], "four integers"), (["--region", "5,5,5,9"], "empty"),
     (["--region", "0,0,40,8"], "outside")],
)
def test_bad_regions_are_one_line_errors(
    folder: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["audit", "--model", "whatever", "--method", "vanilla_gradient", "--data", str(folder),
            "--size", "16", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_audit_of_class_folders_without_images_says_no_images_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "empty"
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
    (root / "cat" / "notes.txt").write_text("not an image")
    assert main(["audit", "--model", "normal", "--method", "vanilla_gradient", "--data", str(root),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "no images found" in err and str(root) in err
