"""load_model: TorchScript, torch.export, safetensors and weights-only state dicts; never runs code.

Crafted archives (code hidden in .pt2 and TorchScript files) are in ``test_model_safety.py``.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from saliency_core import load_model
from saliency_core.zoo import DemoCNN


class _Evil:
    """Unpickling this calls open(marker, "w"), i.e. creates the marker file: arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.marker), "w"))


@pytest.fixture
def model() -> DemoCNN:
    torch.manual_seed(0)
    return DemoCNN(width=4).eval()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def test_the_evil_pickle_really_runs_code(tmp_path: Path) -> None:
    # Guard for the refusal tests below: plain unpickling does create the marker.
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Evil(marker)))
    assert marker.exists()


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".pkl", ".bin"])
@pytest.mark.parametrize("legacy", [False, True])
def test_code_running_pickles_are_refused(tmp_path: Path, suffix: str, legacy: bool) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / f"model{suffix}"
    if legacy:
        path.write_bytes(pickle.dumps({"state_dict": _Evil(marker)}))
    else:
        torch.save({"state_dict": _Evil(marker)}, path)
    with pytest.raises(ValueError, match="refused"):
        load_model(path, architecture="demo_cnn")
    assert not marker.exists(), "loading must never run code from the file"


def test_whole_pickled_module_is_refused_with_what_to_do_instead(tmp_path: Path, model: DemoCNN) -> None:
    path = tmp_path / "whole.pt"
    torch.save(model, path)  # pickles the class by reference: needs full unpickling
    with pytest.raises(ValueError) as refused:
        load_model(path, architecture="demo_cnn")
    assert str(refused.value) == ("whole.pt: pickled checkpoints can run code, so they are refused: export "
                                  "TorchScript or .pt2, or save a safetensors state dict")


class _Raises(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 1:
            raise ValueError("expected grayscale images")
        return x.mean(dim=(2, 3))


class _IntegerLogits(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.mean(dim=(2, 3)) * 10).long()


class _TupleOutput(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x.mean(dim=(2, 3)), x


@pytest.mark.parametrize(("module", "message"), [
    # torch.jit.Error is no RuntimeError; its text holds the script's traceback: one line, the cause last
    (_Raises, r"^scripted\.pt failed on input of shape \(2, 3, 8, 8\): .*expected grayscale images$"),
    (_IntegerLogits, r"^scripted\.pt: the model returns integer logits \(int64\); saliency needs float logits$"),
    (_TupleOutput, r"^scripted\.pt returns a tuple, not a logits tensor$"),
])
def test_a_user_models_failures_are_one_line_naming_its_file(tmp_path: Path, module: type[torch.nn.Module],
                                                              message: str) -> None:
    from saliency_core.methods import explain

    path = tmp_path / "scripted.pt"
    torch.jit.script(module()).save(str(path))
    loaded = load_model(path)
    images = torch.rand(2, 3, 8, 8)
    for run in (lambda: loaded(images), lambda: explain(loaded, images, "vanilla_gradient")):
        with pytest.raises(ValueError, match=message) as caught:
            run()
        assert "Traceback" not in str(caught.value)


def test_torchscript(tmp_path: Path, model: DemoCNN, x: torch.Tensor) -> None:
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(model), path)
    loaded = load_model(path)
    assert not loaded.training
    assert torch.allclose(loaded(x), model(x), atol=1e-5)


def test_torch_export(tmp_path: Path, model: DemoCNN, x: torch.Tensor) -> None:
    path = tmp_path / "exported.pt2"
    torch.export.save(torch.export.export(model, (x,)), path)
    loaded = load_model(path)
    assert torch.allclose(loaded(x), model(x), atol=1e-5)


def test_safetensors_and_state_dict(tmp_path: Path, model: DemoCNN, x: torch.Tensor) -> None:
    st = tmp_path / "w.safetensors"
    save_file(model.state_dict(), str(st))
    loaded = load_model(st, architecture="demo_cnn", classes=["cat", "dog"])
    assert torch.allclose(loaded(x), model(x), atol=1e-6)
    assert loaded.classes == ("cat", "dog")
    sd = tmp_path / "w.pth"
    torch.save({"state_dict": model.state_dict()}, sd)
    assert torch.allclose(load_model(sd, architecture="demo_cnn")(x), model(x), atol=1e-6)
    save_file(model.state_dict(), str(tmp_path / "m.safetensors"), metadata={"architecture": "demo_cnn"})
    assert torch.allclose(load_model(tmp_path / "m.safetensors")(x), model(x), atol=1e-6)


def test_weights_without_architecture_or_mismatched(tmp_path: Path, model: DemoCNN) -> None:
    st = tmp_path / "w.safetensors"
    save_file(model.state_dict(), str(st))
    with pytest.raises(ValueError, match="architecture"):
        load_model(st)
    with pytest.raises(ValueError, match="unknown architecture"):
        load_model(st, architecture="resnet9000")
    save_file({"fc.weight": torch.zeros(2, 3)}, str(st))
    with pytest.raises(ValueError, match="does not fit"):
        load_model(st, architecture="demo_cnn")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="safetensors"):
        load_model(tmp_path / "junk.safetensors", architecture="demo_cnn")


def _torchscript_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "scripted.pt"
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(path))
    return path.read_bytes()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("case", ["text_named_jpg", "three_bytes_pt", "empty_pt", "truncated_torchscript",
                                  "corrupt_torchscript_member", "junk_pt2", "junk_safetensors"])
def test_unreadable_model_files_are_value_errors_naming_the_file(tmp_path: Path, case: str) -> None:
    import zipfile

    if case == "text_named_jpg":
        path = tmp_path / "a text file.jpg"
        path.write_text("hello, this is not a model\n")
    elif case == "three_bytes_pt":
        path = tmp_path / "tiny.pt"
        path.write_bytes(b"abc")
    elif case == "empty_pt":
        path = tmp_path / "empty.pt"
        path.write_bytes(b"")
    elif case == "truncated_torchscript":
        path = tmp_path / "truncated.pt"
        data = _torchscript_bytes(tmp_path)
        path.write_bytes(data[: len(data) // 2])
    elif case == "corrupt_torchscript_member":
        source = tmp_path / "scripted.pt"
        source.write_bytes(_torchscript_bytes(tmp_path))
        path = tmp_path / "corrupt.pt"
        with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w") as zout:
            for name in zin.namelist():
                zout.writestr(name, b"garbage" if name.endswith("data.pkl") else zin.read(name))
    elif case == "junk_pt2":
        path = tmp_path / "junk.pt2"
        path.write_text("not an export")
    else:
        path = tmp_path / "junk.safetensors"
        path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{bad json")
    with pytest.raises(ValueError) as caught:
        load_model(path, architecture="demo_cnn")
    assert path.name in str(caught.value)


def test_a_directory_is_not_a_model_file(tmp_path: Path) -> None:
    folder = tmp_path / "model.pt"
    folder.mkdir()
    with pytest.raises(ValueError, match="directory"):
        load_model(folder)
