"""`--timeout`: a model file runs in its own process; a forward pass that loops is stopped after the
limit and the command exits 2 with one line saying so (zoo models run in-process, without a limit)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from saliency_core.cli import main

from hanging_models import LoopsOnImages  # tests/: the shared hanging models

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SLACK = 6.0  # seconds a stopped command may take beyond the limit on a busy machine


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "loops.pt"
    torch.jit.save(torch.jit.script(LoopsOnImages()), str(model))
    image = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(1, 256, (20, 30, 3), dtype=np.uint8)).save(image)
    return model, image


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", [["explain", "--size", "16", "--out", "maps"], ["occlusion", "--grid", "2"]])
def test_a_looping_model_file_is_stopped_after_the_timeout(files: tuple[Path, Path], command: list[str],
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, image = files
    argv = [command[0], "--model", str(model), "--timeout", "2",
            *[str(tmp_path / a) if a == "maps" else a for a in command[1:]], str(image)]
    start = time.monotonic()
    assert main(argv) == 2
    assert time.monotonic() - start < 2 + SLACK
    err = capsys.readouterr().err
    assert err == (f"saliency-lab {command[0]}: error: loops.pt: a forward pass did not finish within 2 s; "
                   "stopped — raise the limit with --timeout SECONDS if the model is just slow\n")


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_a_timeout_that_is_no_positive_number_is_refused_before_loading(
        files: tuple[Path, Path], tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    model, image = files
    assert main(["explain", "--model", str(model), "--timeout", value, "--out", str(tmp_path), str(image)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("saliency-lab explain: error: --timeout must be a finite number > 0") and err.count("\n") == 1
