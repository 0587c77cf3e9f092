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


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    rng = np.random.default_rng(1)
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(1, 256, (20, 20, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.mark.timeout(60)
def test_an_audit_of_a_looping_model_file_is_stopped_after_the_timeout(
        files: tuple[Path, Path], folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, _ = files
    argv = ["audit", "--model", str(model), "--method", "vanilla_gradient", "--data", str(folder),
            "--size", "16", "--timeout", "2", "--no-progress"]
    start = time.monotonic()
    assert main(argv) == 2
    assert time.monotonic() - start < 2 + SLACK
    err = capsys.readouterr().err
    assert err == ("saliency-lab audit: error: loops.pt: a forward pass did not finish within 2 s; "
                   "stopped — raise the limit with --timeout SECONDS if the model is just slow\n")


def _parts(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in out.with_name(out.name + ".parts").glob("part-*.parquet")}


@pytest.mark.timeout(120)
def test_an_audit_in_the_model_process_matches_the_in_process_one_and_resumes(
        tiny_cnn: nn.Module, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from saliency_core.audit import read_table
    from saliency_core.cli import audit as audit_cli
    from saliency_core.cli.zoo import load_model_arg
    from saliency_core.zoo import model_process

    model = tmp_path / "tiny.pt"
    torch.jit.trace(tiny_cnn, torch.rand(1, 3, 16, 16)).save(str(model))
    common = ["audit", "--model", str(model), "--method", "vanilla_gradient", "--method", "gradient_squared",
              "--data", str(folder), "--region", "0,0,8,8", "--size", "16", "--normalize", "imagenet",
              "--no-progress", "--timeout", "30"]
    child, here = tmp_path / "child.parquet", tmp_path / "here.parquet"
    assert main([*common, "--out", str(child)]) == 0
    printed = capsys.readouterr().out
    with monkeypatch.context() as patch:  # the audit as before --timeout: the model file in this process
        patch.setattr(audit_cli, "load_model", lambda spec, **_: load_model_arg(spec))
        assert main([*common, "--out", str(here)]) == 0
    assert capsys.readouterr().out.replace("here.parquet", "child.parquet") == printed
    a, b = read_table(child), read_table(here)
    assert a is not None and b is not None and len(a) == 8
    assert a[["id", "method", "truth", "prediction"]].equals(b[["id", "method", "truth", "prediction"]])
    for column in ("confidence", "share", "m", "n"):
        np.testing.assert_allclose(a[column], b[column], rtol=1e-5, atol=1e-6)

    parts = _parts(child)
    assert parts
    with monkeypatch.context() as patch:  # a rerun reuses every part: nothing runs in the child
        def refuse(*_: object, **__: object) -> None:
            raise AssertionError("recomputed a finished part")

        patch.setattr(model_process.ModelProcess, "explain", refuse)
        assert main([*common, "--out", str(child)]) == 0
    assert _parts(child) == parts
    assert read_table(child).equals(a)

    torch.manual_seed(7)  # another model in the same file: its bytes are in the hash, nothing is reused
    other = type(tiny_cnn)().eval()
    torch.jit.trace(other, torch.rand(1, 3, 16, 16)).save(str(model))
    assert main([*common, "--out", str(child)]) == 0
    assert set(_parts(child)) - set(parts)  # computed again, under a new configuration hash
