"""A user's model file never runs code: crafted archives through load_model and the CLI.

Every crafted file is built here at test time (no binary fixtures) from a real export, with a
payload that creates a marker file when torch would run it: a pickle whose ``__reduce__`` is
``open(marker, "w")``, a shape expression or guard that calls ``open``, TorchScript that calls
``torch.save``. ``test_plain_torch_runs_the_payload`` proves each payload is live (plain torch
creates the marker); the other tests prove saliency_core never does. The dashboard's upload is
tested with the same files in ``tests/dashboard/test_model_upload_safety.py``.

Legitimate ``.pt2`` exports (fixed and dynamic batch) work on every surface, as eval-mode models
with input gradients, and a wrong input shape is a ValueError naming the exported shape.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from saliency_core import load_model
from saliency_core.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

Files = dict[str, bytes]  # an archive's members, by name below its top folder


class Evil:
    """Unpickling this calls ``open(marker, "w")``: it creates the marker, i.e. runs code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.marker, "w"))


def evil_torch_save(marker: Path) -> bytes:
    buffer = io.BytesIO()
    torch.save(Evil(marker), buffer)
    return buffer.getvalue()


class Classifier(nn.Module):
    """Conv, batch norm, dropout, global pool, linear: behaves differently in training mode."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(x).mean(dim=(2, 3))))


def classifier() -> Classifier:
    torch.manual_seed(7)
    model = Classifier()
    with torch.no_grad():  # non-trivial batch-norm statistics
        model.features[1].running_mean.uniform_(-0.2, 0.2)
        model.features[1].running_var.uniform_(0.5, 1.5)
    return model.eval()


def export(model: nn.Module, path: Path, size: int, batch: int = 2, dynamic: bool = False) -> Path:
    shapes = {"x": {0: torch.export.Dim("batch", min=1, max=64)}} if dynamic else None
    torch.export.save(torch.export.export(model, (torch.rand(batch, 3, size, size),), dynamic_shapes=shapes), path)
    return path


def rewrite(source: Path, target: Path, edit: Callable[[Files], None], top_folder: bool = True) -> Path:
    """A copy of the archive ``source`` with its members changed by ``edit``."""
    with zipfile.ZipFile(source) as archive:
        root = archive.namelist()[0].split("/")[0]
        files = {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}
    edit(files)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"{root}/{name}" if top_folder else name, data)
    return target


def edit_json(files: Files, name: str, change: Callable[[dict], None]) -> None:
    document = json.loads(files[name])
    change(document)
    files[name] = json.dumps(document).encode()


# ------------------------------------------------------------------------- where code can hide
# Each payload edits a legitimate archive's members so that torch would run ``open(marker, "w")``.

def sample_inputs(files: Files, marker: Path) -> None:  # torch retries them without weights_only
    files["data/sample_inputs/model.pt"] = evil_torch_save(marker)


def pickled_weight(files: Files, marker: Path) -> None:  # "use_pickle": loaded without weights_only
    def change(config: dict) -> None:
        entry = next(iter(config["config"].values()))
        entry["use_pickle"] = True
        files["data/weights/" + entry["path_name"]] = evil_torch_save(marker)

    edit_json(files, "data/weights/model_weights_config.json", change)


def pickled_constant(files: Files, marker: Path) -> None:  # the same for a tensor constant
    def change(config: dict) -> None:
        config["config"]["evil"] = {"path_name": "tensor_9", "is_param": False, "use_pickle": True,
                                    "tensor_meta": None}

    edit_json(files, "data/constants/model_constants_config.json", change)
    files["data/constants/tensor_9"] = evil_torch_save(marker)


def opaque_constant(files: Files, marker: Path) -> None:  # "opaque_obj_*": plain pickle.loads
    def change(config: dict) -> None:
        config["config"]["evil"] = {"path_name": "opaque_obj_0", "is_param": False, "use_pickle": True,
                                    "tensor_meta": None}

    edit_json(files, "data/constants/model_constants_config.json", change)
    files["data/constants/opaque_obj_0"] = pickle.dumps(Evil(marker))


def shape_expression(files: Files, marker: Path) -> None:  # sympy.sympify is eval()
    def change(program: dict) -> None:
        values = program["graph_module"]["graph"]["tensor_values"]
        image = values["x"]
        image["sizes"][0] = {"as_expr": {"expr_str": f"open({str(marker)!r}, 'w') and 2",
                                         "hint": {"as_int": 2}}}

    edit_json(files, "models/model.json", change)


def guard_code(files: Files, marker: Path) -> None:  # ExportedProgram.module() execs the guards
    edit_json(files, "models/model.json", lambda program: program.update(
        guards_code=[f"open({str(marker)!r}, 'w') is not None"]))


def tree_spec_import(files: Files, marker: Path) -> None:  # torch.utils._pytree imports enum keys' modules
    # The module is one the attacker can place where Python imports from (e.g. the folder that
    # `python -m` runs in); the tests put marker's folder on sys.path (fixture ``importable``).
    module = "payload_" + hashlib.sha1(str(marker).encode()).hexdigest()[:12]
    (marker.parent / f"{module}.py").write_text(f"open({str(marker)!r}, 'w')\n")

    def change(program: dict) -> None:
        signature = program["graph_module"]["module_call_graph"][0]["signature"]
        protocol, spec = json.loads(signature["in_spec"])
        spec["children_spec"][1]["context"] = json.dumps([{"__enum__": True, "fqn": f"{module}:X", "name": "Y"}])
        signature["in_spec"] = json.dumps([protocol, spec])

    edit_json(files, "models/model.json", change)


def legacy_layout(files: Files, marker: Path) -> None:  # torch <= 2.7 layout: a fallback path
    program = json.loads(files["models/model.json"])
    version = program["schema_version"]
    empty = io.BytesIO()
    torch.save({}, empty)
    files.clear()
    files.update({"version": f"{version['major']}.{version['minor']}".encode(),
                  "serialized_exported_program.json": json.dumps(program).encode(),
                  "serialized_state_dict.pt": empty.getvalue(),
                  "serialized_example_inputs.pt": empty.getvalue(),
                  "serialized_constants.pt": evil_torch_save(marker)})


PT2_PAYLOADS: dict[str, Callable[[Files, Path], None]] = {
    f.__name__: f for f in (sample_inputs, pickled_weight, pickled_constant, opaque_constant, shape_expression,
                            guard_code, tree_spec_import, legacy_layout)
}
# Without its guard strings the program is legitimate: it loads (and the guard never runs).
LOADS_WITHOUT_THE_PAYLOAD = {"guard_code"}


class SaveWhileLoading(nn.Module):
    """TorchScript whose ``__setstate__`` (run by torch.jit.load) writes the file in its state."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.head = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.mean(dim=(2, 3)))

    @torch.jit.export
    def __getstate__(self) -> tuple[str, bool]:
        return (self.marker, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, bool]) -> None:
        torch.ops.aten.save(torch.zeros(1), state[0])
        self.marker = state[0]
        self.training = state[1]


class SaveWhileRunning(nn.Module):
    """TorchScript whose forward writes a file."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.ops.aten.save(x, self.marker)
        return x.mean(dim=(2, 3))[:, :2]


def torchscript(module: type[nn.Module]) -> Callable[[Path, Path], Path]:
    def build(target: Path, marker: Path) -> Path:
        torch.jit.script(module(str(marker))).save(str(target))
        return target

    return build


SCRIPT_PAYLOADS = {"script_setstate": torchscript(SaveWhileLoading), "script_forward": torchscript(SaveWhileRunning)}
PAYLOADS = [*PT2_PAYLOADS, *SCRIPT_PAYLOADS]


@pytest.fixture
def importable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``tmp_path`` on sys.path, where ``tree_spec_import`` puts its module."""
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.fixture(scope="module")
def base_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A legitimate export of the classifier for 8×8 images, batch 2."""
    return export(classifier(), tmp_path_factory.mktemp("base") / "base.pt2", size=8)


def crafted(name: str, folder: Path, base: Path) -> tuple[Path, Path]:
    """The crafted file ``name`` in ``folder`` and the marker its payload would create."""
    marker = folder / f"ran_{name}"
    if name in SCRIPT_PAYLOADS:
        return SCRIPT_PAYLOADS[name](folder / f"{name}.pt", marker), marker
    edit = PT2_PAYLOADS[name]
    return rewrite(base, folder / f"{name}.pt2", lambda files: edit(files, marker),
                   top_folder=name != "legacy_layout"), marker


def images(folder: Path, count: int = 2) -> list[str]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


# --------------------------------------------------------------------------------- the payloads
@pytest.mark.parametrize("name", PAYLOADS)
def test_plain_torch_runs_the_payload(name: str, tmp_path: Path, base_export: Path, importable: None) -> None:
    # Guard for every test below: torch's own loaders do run the crafted code.
    path, marker = crafted(name, tmp_path, base_export)
    try:
        if path.suffix == ".pt2":
            torch.export.load(str(path)).module()(torch.rand(2, 3, 8, 8))
        else:
            torch.jit.load(str(path))(torch.rand(2, 3, 8, 8))
    except Exception:  # noqa: BLE001, S110 - a payload may break the file after it has run
        pass
    assert marker.exists()


@pytest.mark.parametrize("name", PAYLOADS)
def test_load_model_never_runs_the_payload(name: str, tmp_path: Path, base_export: Path, importable: None) -> None:
    path, marker = crafted(name, tmp_path, base_export)
    if name in LOADS_WITHOUT_THE_PAYLOAD:
        model = load_model(path)
        assert model(torch.rand(3, 3, 8, 8)).shape == (3, 2)
    else:
        with pytest.raises(ValueError) as refused:
            load_model(path)
        message = str(refused.value)
        assert path.name in message and "\n" not in message
    assert not marker.exists()


def cli_arguments(command: str, folder: Path) -> list[str]:
    """What ``command`` needs besides ``--model``, for 8×8 models (occlusion's frame is 128²)."""
    if command == "explain":
        return ["--size", "8", "--out", str(folder / "maps"), *images(folder)]
    if command == "occlusion":
        return images(folder)
    photos = folder / "photos"
    for label in ("cat", "dog"):
        (photos / label).mkdir(parents=True)
        images(photos / label, 1)
    return ["--method", "gradient_squared", "--data", str(photos), "--size", "8"]


@pytest.mark.parametrize("command", ["explain", "occlusion", "audit"])
@pytest.mark.parametrize("name", PAYLOADS)
def test_the_cli_never_runs_the_payload(name: str, command: str, tmp_path: Path, base_export: Path,
                                        importable: None, capsys: pytest.CaptureFixture[str]) -> None:
    path, marker = crafted(name, tmp_path, base_export)
    status = main([command, "--model", str(path), *cli_arguments(command, tmp_path)])
    error = capsys.readouterr().err
    if name not in LOADS_WITHOUT_THE_PAYLOAD:
        assert status == 2 and error.count("\n") == 1 and path.name in error, error
    assert not marker.exists()


# ------------------------------------------------------------------------ legitimate exports
@pytest.mark.parametrize("dynamic", [False, True])
def test_an_export_gives_the_models_logits_for_any_batch(tmp_path: Path, dynamic: bool) -> None:
    model = classifier()
    loaded = load_model(export(model, tmp_path / "m.pt2", size=16, dynamic=dynamic))
    for batch in (1, 2, 3, 5):  # a fixed-batch export (2) runs larger and smaller batches too
        x = torch.rand(batch, 3, 16, 16)
        with torch.no_grad():
            assert torch.allclose(loaded(x), model(x), atol=1e-5)


def test_gradients_reach_the_input_of_an_export(tmp_path: Path) -> None:
    model = classifier()
    loaded = load_model(export(model, tmp_path / "m.pt2", size=16))
    x = torch.rand(3, 3, 16, 16)
    grads = []
    for net in (model, loaded):
        inputs = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(net(inputs)[:, 1].sum(), inputs)
        grads.append(grad)
    assert grads[0].abs().sum() > 0 and torch.allclose(grads[0], grads[1], atol=1e-6)


def test_an_export_from_a_training_mode_model_runs_as_the_eval_mode_model(tmp_path: Path) -> None:
    model = classifier().train()  # batch norm on batch statistics, dropout on
    loaded = load_model(export(model, tmp_path / "m.pt2", size=16))
    x = torch.rand(4, 3, 16, 16)
    with torch.no_grad():
        expected = model.eval()(x)
        assert torch.equal(loaded(x), loaded(x))  # no dropout
        assert torch.allclose(loaded(x), expected, atol=1e-5)  # running statistics
    assert not loaded.train().training  # train() keeps a user's model in eval mode


def test_a_shape_the_program_was_not_exported_for_names_the_exported_shape(tmp_path: Path) -> None:
    loaded = load_model(export(classifier(), tmp_path / "for64.pt2", size=64))
    with pytest.raises(ValueError, match=r"for64\.pt2 takes images of shape \(N, 3, 64, 64\).*\(2, 3, 32, 32\)"):
        loaded(torch.rand(2, 3, 32, 32))


@pytest.mark.parametrize("dynamic", [False, True])
def test_the_cli_explains_and_occludes_with_an_export(tmp_path: Path, dynamic: bool,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    batch = 2 if dynamic else 1  # a dynamic batch needs an example of 2 or more
    small = export(classifier(), tmp_path / "small.pt2", size=16, batch=batch, dynamic=dynamic)
    frame = export(classifier(), tmp_path / "frame.pt2", size=128, batch=batch, dynamic=dynamic)  # occlusion: 128²
    pictures = images(tmp_path, 3)
    out = tmp_path / "maps"
    explained = main(["explain", "--model", str(small), "--size", "16", "--method", "integrated_gradients",
                      "--option", "steps=4", "--out", str(out), *pictures])
    assert explained == 0 and len(list(out.glob("*.png"))) == 3, capsys.readouterr().err
    capsys.readouterr()
    occluded = main(["occlusion", "--model", str(frame), "--window", "32", "--stride", "32", *pictures])
    printed = capsys.readouterr()
    assert occluded == 0 and printed.out.count(" class ") == 3, printed.err
