"""Hostile and careless input on the command line: ``explain``, ``occlusion`` and ``audit``.

No input hangs a command (pipes, devices and sockets are refused before they are opened: proven
in a subprocess with a deadline), no input ends in a traceback, and every mistake is named in
one line with the file (names with newlines or control characters escaped), errors with exit
code 2. The corpus is generated at test time (``tests/hostile_corpus.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hostile_corpus import Case, good_png, make_corpus
from torch import nn

from saliency_core.cli import main
from saliency_core.data.frame import MAX_FRAME

pytestmark = [pytest.mark.timeout(60), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

# The same interpreter and package as the tests, as a separate process that can be given a deadline.
CLI = [sys.executable, "-c", "import sys; from saliency_core.cli import main; sys.exit(main())"]


def _shown(path: Path) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))


def _one_line_each(text: str) -> list[str]:
    lines = text.splitlines()
    assert all("\x1b" not in line for line in lines), text  # no terminal escapes get through
    return lines


@pytest.fixture
def model_file(tmp_path: Path, tiny_cnn: nn.Module) -> Path:
    path = tmp_path / "tiny.pt"
    torch.jit.trace(tiny_cnn, torch.rand(1, 3, 16, 16)).save(str(path))
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> list[Case]:
    return make_corpus(tmp_path / "bad")


# --------------------------------------------------------------------------- explain


def test_explain_names_every_hostile_file_on_one_line_and_explains_the_good_one(
    model_file: Path, corpus: list[Case], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = good_png(tmp_path / "good.png")
    argv = ["explain", "--model", str(model_file), "--size", "16", "--out", str(tmp_path / "maps"),
            *(str(c.path) for c in corpus), str(good)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    lines = _one_line_each(captured.err)
    assert len(lines) == len(corpus)
    for line, case in zip(lines, corpus):
        assert line.startswith(f"saliency-lab explain: skipped {_shown(case.path)}: ") and case.reason in line, line
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == ["good_gradient_squared.png",
                                                                     "good_gradient_squared_photo.png"]


@pytest.mark.parametrize("name", ["pipe.jpg", "zero.png", "ztxt-bomb.png", "animated.webp", "strip-tall.png",
                                  "bad\nname\x1b[2J.jpg"])
def test_explain_of_one_hostile_file_is_one_error_line_with_exit_code_2(
    model_file: Path, corpus: list[Case], tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    case = next(c for c in corpus if c.path.name == name)
    assert main(["explain", "--model", str(model_file), "--out", str(tmp_path / "maps"), str(case.path)]) == 2
    lines = _one_line_each(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith(f"saliency-lab explain: error: {_shown(case.path)}: ")
    assert case.reason in lines[0]


def test_explain_refuses_a_frame_size_over_the_limit_in_one_line(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = good_png(tmp_path / "good.png")
    assert main(["explain", "--model", str(model_file), "--size", "100000", "--out", str(tmp_path / "m"), str(good)]) == 2
    err = capsys.readouterr().err
    assert len(_one_line_each(err)) == 1 and f"--size must be from 1 to {MAX_FRAME}" in err and "100000" in err


# --------------------------------------------------------------------------- --model


@pytest.mark.parametrize("command", ["explain", "audit"])
@pytest.mark.parametrize(("make", "reason"), [
    ("folder", "model.pt: is a directory, not a model file"),
    ("pipe", "model.pt: not a regular file (a named pipe)"),
    ("missing", "model.pt: no such model file"),
])
def test_model_argument_that_is_no_model_file_is_named_not_called_an_unknown_zoo_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, make: str, reason: str
) -> None:
    model = tmp_path / "model.pt"
    if make == "folder":
        model.mkdir()
    elif make == "pipe":
        os.mkfifo(model)
    good = good_png(tmp_path / "data" / "cat" / "good.png")
    tail = (["--out", str(tmp_path / "maps"), str(good)] if command == "explain"
            else ["--method", "vanilla_gradient", "--data", str(tmp_path / "data"), "--no-progress"])
    assert main([command, "--model", str(model), *tail]) == 2
    err = capsys.readouterr().err
    assert len(_one_line_each(err)) == 1 and reason in err and "unknown zoo model" not in err


def test_an_unknown_zoo_name_still_lists_the_zoo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = good_png(tmp_path / "good.png")
    assert main(["explain", "--model", "no-such-model", "--out", str(tmp_path / "m"), str(good)]) == 2
    assert "unknown zoo model 'no-such-model'; choose one of" in capsys.readouterr().err


# --------------------------------------------------------------------------- audit


def test_audit_names_every_skipped_file_on_its_own_line_and_audits_the_rest(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    good_png(root / "cat" / "good.png", seed=1)
    good_png(root / "dog" / "good.png", seed=2)
    cases = make_corpus(root / "dog")
    argv = ["audit", "--model", str(model_file), "--method", "vanilla_gradient", "--data", str(root),
            "--size", "16", "--no-progress"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err and "accuracy" in captured.out
    lines = [line for line in _one_line_each(captured.err) if "skipped" in line]
    assert len(lines) == len(cases)
    for case in cases:
        line = next(x for x in lines if x.startswith(f"saliency-lab audit: skipped dog/{case.shown}: "))
        assert case.reason in line, line


def test_audit_of_a_folder_of_only_hostile_files_is_exit_code_2_naming_them(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    cases = make_corpus(root / "cat")
    (root / "dog").mkdir()
    argv = ["audit", "--model", str(model_file), "--method", "vanilla_gradient", "--data", str(root),
            "--size", "16", "--no-progress"]
    assert main(argv) == 2
    lines = _one_line_each(capsys.readouterr().err)
    assert len(lines) == len(cases) + 1
    assert lines[-1] == (f"saliency-lab audit: error: no images found in data folder {root} "
                         f"({len(cases)} file(s) skipped, named above)")


@pytest.mark.parametrize(("extra", "message"), [
    (["--size", "100000"], f"--size must be from 1 to {MAX_FRAME}"),
    (["--size", "0"], f"--size must be from 1 to {MAX_FRAME}"),
    (["--batch-size", "0"], "--batch-size must be a positive int"),
])
def test_audit_refuses_sizes_out_of_bounds_before_reading_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    os.mkfifo(tmp_path / "pipe.jpg")  # would hang if anything were read
    argv = ["audit", "--model", "normal", "--method", "vanilla_gradient", "--data", str(tmp_path), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(_one_line_each(err)) == 1 and message in err


def test_audit_data_that_is_a_pipe_is_named_not_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "data")
    argv = ["audit", "--model", "normal", "--method", "vanilla_gradient", "--data", str(tmp_path / "data")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(_one_line_each(err)) == 1 and f"--data {tmp_path / 'data'} is not a folder" in err


# --------------------------------------------------------------------------- occlusion


def test_occlusion_names_every_hostile_file_and_maps_the_good_one(
    corpus: list[Case], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = good_png(tmp_path / "good.png", size=(64, 64))
    argv = ["occlusion", "--model", "normal", "--window", "32", "--stride", "32",
            *(str(c.path) for c in corpus), str(good)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert "Traceback" not in said and "good.png: class" in captured.out
    for case in corpus:
        assert case.shown in said and case.reason in said, case.path.name


def test_occlusion_keeps_a_file_name_with_a_newline_on_one_line(
    corpus: list[Case], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = good_png(tmp_path / "good.png", size=(64, 64))
    case = next(c for c in corpus if "\n" in c.path.name)
    assert main(["occlusion", "--model", "normal", "--window", "32", "--stride", "32", str(case.path), str(good)]) == 0
    captured = capsys.readouterr()
    skipped = [line for line in _one_line_each(captured.out + captured.err) if "skipped" in line]
    assert len(skipped) == 1 and case.reason in skipped[0]


def test_occlusion_model_that_is_a_pipe_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "model.pt")
    good = good_png(tmp_path / "good.png")
    assert main(["occlusion", "--model", str(tmp_path / "model.pt"), str(good)]) == 2
    assert "model.pt: not a regular file (a named pipe)" in capsys.readouterr().err


def test_occlusion_model_that_is_a_folder_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model.pt").mkdir()
    good = good_png(tmp_path / "good.png")
    assert main(["occlusion", "--model", str(tmp_path / "model.pt"), str(good)]) == 2
    err = capsys.readouterr().err
    assert len(_one_line_each(err)) == 1 and "is a directory, not a model file" in err


# --------------------------------------------------------------------------- no hangs, proven


def _special_files(folder: Path) -> list[Path]:
    return [c.path for c in make_corpus(folder) if c.special]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", ["explain", "occlusion", "audit"])
def test_no_command_hangs_on_pipes_devices_or_sockets(tmp_path: Path, command: str) -> None:
    special = _special_files(tmp_path / "data" / "cat")
    good_png(tmp_path / "data" / "dog" / "good.png")
    if command == "audit":
        argv = ["audit", "--model", "normal", "--method", "vanilla_gradient", "--data", str(tmp_path / "data"),
                "--size", "32", "--no-progress"]
    elif command == "explain":
        argv = ["explain", "--model", "normal", "--size", "32", "--out", str(tmp_path / "maps"),
                *map(str, special), "/dev/zero"]
    else:
        argv = ["occlusion", "--model", "normal", *map(str, special), "/dev/zero"]
    done = subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    said = done.stdout + done.stderr
    assert "Traceback" not in said
    assert "not a regular file (a named pipe)" in said and "not a regular file (a character device)" in said
    if command == "audit":
        assert done.returncode == 0  # the good photo is audited, the rest named
    else:
        assert done.returncode != 0  # nothing readable (explain: 2, the error code)
        assert command != "explain" or done.returncode == 2
