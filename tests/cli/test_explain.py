"""`saliency-lab explain` end to end on a TorchScript file and generated images (never committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from saliency_core.cli import main
from saliency_core.cli.explain import parse_options

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def files(tmp_path: Path, tiny_cnn: nn.Module) -> tuple[Path, list[Path]]:
    model_path = tmp_path / "model.pt"
    torch.jit.trace(tiny_cnn, torch.rand(1, 3, 8, 8)).save(str(model_path))
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


def _bad_image_files(tmp_path: Path) -> list[Path]:
    text = tmp_path / "notes.jpg"
    text.write_text("this is text, not a JPEG\n")
    good = tmp_path / "whole.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(good)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    animated = tmp_path / "animated.gif"
    frames = [Image.new("RGB", (12, 12), colour) for colour in ("red", "blue")]
    frames[0].save(animated, save_all=True, append_images=frames[1:])
    return [text, truncated, folder, animated]


def test_explain_cli_skips_unreadable_files_without_traceback(
    files: tuple[Path, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path, images = files
    bad = _bad_image_files(tmp_path)
    out = tmp_path / "maps"
    argv = ["explain", "--model", str(model_path), "--method", "vanilla_gradient", "--size", "16",
            "--out", str(out), *map(str, bad), str(images[0])]
    assert main(argv) == 0  # the readable image is still explained
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    skipped = captured.err.splitlines()  # one line per refused file, on stderr
    prefix = "saliency-lab explain: skipped "
    assert all(line.startswith(prefix) for line in skipped)
    assert [line.removeprefix(prefix).split(": ")[0] for line in skipped] == [str(p) for p in bad]
    assert "frames" in skipped[3]  # the animated GIF is refused, not reduced to frame 0
    assert sorted(p.name for p in out.iterdir()) == [f"{images[0].stem}_vanilla_gradient.png",
                                                     f"{images[0].stem}_vanilla_gradient_photo.png"]


def test_explain_cli_exits_2_with_one_line_naming_each_file_when_none_is_readable(
    files: tuple[Path, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path, _ = files
    bad = _bad_image_files(tmp_path)
    argv = ["explain", "--model", str(model_path), "--out", str(tmp_path / "maps"), *map(str, bad)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert len(captured.err.splitlines()) == 1 and captured.err.startswith("saliency-lab explain: error: ")
    assert all(str(p) in captured.err for p in bad)


def test_explain_cli_out_that_is_a_file_is_a_one_line_error(
    files: tuple[Path, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path, images = files
    existing = tmp_path / "existing.txt"
    existing.write_text("x")
    assert main(["explain", "--model", str(model_path), "--out", str(existing), str(images[0])]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "--out" in err


def test_cli_turns_os_errors_into_one_line_messages_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any subcommand that hits an OSError (here: --out naming an existing file, so mkdir fails)
    # ends in one "error:" line, not a FileExistsError traceback.
    import saliency_core.cli.explain as explain_cli

    existing = tmp_path / "existing.txt"
    existing.write_text("x")

    def run(args) -> int:
        existing.mkdir(parents=True, exist_ok=True)  # FileExistsError
        return 0

    monkeypatch.setattr(explain_cli, "run", run)
    assert main(["explain", "--model", "m", "--out", str(tmp_path), "image.png"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("saliency-lab explain: error: ")
    assert str(existing) in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv_tail", [["--out", "OUTFILE"], ["FOLDER"]])
def test_occlusion_cli_folder_input_or_file_out_is_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv_tail: list[str]
) -> None:
    image = tmp_path / "cat.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(image)
    outfile = tmp_path / "out.txt"
    outfile.write_text("x")
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    tail = [str(outfile) if a == "OUTFILE" else str(folder) if a == "FOLDER" else a for a in argv_tail]
    args = ["occlusion", "--model", "normal", *tail] + ([str(image)] if "FOLDER" not in argv_tail else [])
    code = main(args)
    captured = capsys.readouterr()
    assert code != 0 and "Traceback" not in captured.err + captured.out
    said = captured.out + captured.err
    assert ("folder.jpg: is a directory, not a file" in said) if "FOLDER" in argv_tail else ("File exists" in captured.err)


def test_smoothgrad_seed_option_that_is_not_an_integer_is_an_error_message(
    files: tuple[Path, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path, images = files
    argv = ["explain", "--model", str(model_path), "--method", "smoothgrad", "--option", "seed=1.5",
            "--option", "samples=2", "--size", "16", "--out", str(tmp_path / "maps"), str(images[0])]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "seed" in err


def test_a_sixteen_bit_png_is_explained_from_its_true_brightness(
    files: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # explain must read images through read_image: a mid-grey 16-bit PNG reaches the model as 0.5, not 1.0.
    # (A model file runs in its own process: the CLI's explain is model_process.explain, which sends it there.)
    import saliency_core.zoo.model_process as methods

    model_path, _ = files
    grey = tmp_path / "grey16.png"
    Image.fromarray(np.full((20, 20), 32768, np.uint16)).save(grey)
    seen = []
    real = methods.explain

    def spy(model, images, *args, **kwargs):
        seen.append(images)
        return real(model, images, *args, **kwargs)

    monkeypatch.setattr(methods, "explain", spy)
    assert main(["explain", "--model", str(model_path), "--size", "8", "--out", str(tmp_path / "m"), str(grey)]) == 0
    assert abs(float(seen[0].mean()) - 32768 / 65535) <= 1 / 255
