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
import struct
import subprocess
import sys
import time
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
from saliency_core.zoo import loading

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


class SaveInFork(nn.Module):
    """TorchScript whose forward forks aten::save: prim::fork keeps the call in a subgraph attribute."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.jit._wait(torch.jit._fork(torch.ops.aten.save, x, self.marker))
        return x.mean(dim=(2, 3))[:, :2]


class SaveInAwaitable(nn.Module):
    """The same with prim::awaitable."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.jit._awaitable_wait(torch.jit._awaitable(torch.ops.aten.save, x, self.marker))
        return x.mean(dim=(2, 3))[:, :2]


def torchscript(module: type[nn.Module]) -> Callable[[Path, Path], Path]:
    def build(target: Path, marker: Path) -> Path:
        torch.jit.script(module(str(marker))).save(str(target))
        return target

    return build


def _zip(items: list[tuple[str, bytes]], compression: int, comment: int = 0) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for k, (name, data) in enumerate(items):
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            if k == 0 and comment:
                info.comment = b"c" * comment
            archive.writestr(info, data)
    return buffer.getvalue()


def _split(blob: bytes) -> tuple[bytes, bytes]:
    """An archive's members (local headers and data) and its central directory."""
    end = blob.rfind(b"PK\x05\x06")
    size, offset = struct.unpack("<2L", blob[end + 12:end + 20])
    return blob[:offset], blob[offset:offset + size]


def zip_confusion(target: Path, marker: Path) -> Path:
    """One file, two archives: Python's zipfile reads a harmless TorchScript Sequential, torch's reader
    (miniz, which does not shift offsets for data before the archive) reads SaveWhileLoading.

    The Sequential's archive is prepended with SaveWhileLoading's members and central directory, the
    latter placed where the Sequential's end record says its directory is.
    """
    def members(model: nn.Module) -> list[tuple[str, bytes]]:
        buffer = io.BytesIO()
        torch.jit.save(torch.jit.script(model), buffer)
        with zipfile.ZipFile(buffer) as archive:
            return [(info.filename, archive.read(info)) for info in archive.infolist()]

    evil, good = members(SaveWhileLoading(str(marker))), members(nn.Sequential(nn.Linear(3, 300), nn.Linear(300, 2)))
    root = good[0][0].split("/")[0]
    evil = [(f"{root}/{name.split('/', 1)[1]}", data) for name, data in evil]
    while len(evil) < len(good):
        evil.append((f"{root}/pad{len(evil)}", b""))
    while len(good) < len(evil):
        good.append((f"{root}/pad{len(good)}", b""))
    good_zip = _zip(good, zipfile.ZIP_STORED)
    good_local, good_cd = _split(good_zip)
    evil_local, evil_cd = _split(_zip(evil, zipfile.ZIP_DEFLATED))
    assert len(evil_local) <= len(good_local)
    if len(evil_cd) < len(good_cd):  # the two directories the same size
        evil_cd = _split(_zip(evil, zipfile.ZIP_DEFLATED, comment=len(good_cd) - len(evil_cd)))[1]
    else:
        good_zip = _zip(good, zipfile.ZIP_STORED, comment=len(evil_cd) - len(good_cd))
        good_local, good_cd = _split(good_zip)
    target.write_bytes(evil_local + b"\0" * (len(good_local) - len(evil_local)) + evil_cd + good_zip)
    return target


SCRIPT_PAYLOADS = {"script_setstate": torchscript(SaveWhileLoading), "script_forward": torchscript(SaveWhileRunning),
                   "script_fork": torchscript(SaveInFork), "script_awaitable": torchscript(SaveInAwaitable),
                   "zip_confusion": zip_confusion}
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
    # each image's map in the model frame and over the original photo
    assert explained == 0 and len(list(out.glob("*.png"))) == 6, capsys.readouterr().err
    capsys.readouterr()
    occluded = main(["occlusion", "--model", str(frame), "--window", "32", "--stride", "32", *pictures])
    printed = capsys.readouterr()
    assert occluded == 0 and printed.out.count(" class ") == 3, printed.err


# ------------------------------------------------------------------ costly or oversized archives
def power_tower(files: Files) -> None:
    """A shape expression sympy would compute for ever (9**(9**9)) while deserializing."""
    def change(program: dict) -> None:
        program["graph_module"]["graph"]["tensor_values"]["x"]["sizes"][0] = {
            "as_expr": {"expr_str": "Integer(9)**Integer(9)**Integer(9)", "hint": {"as_int": 2}}}

    edit_json(files, "models/model.json", change)


def zip_bomb(files: Files, padding: int = 100 * 2**20) -> None:
    """The program JSON padded with ``padding`` spaces (still valid JSON); deflated about 1000:1."""
    files["models/model.json"] += b" " * padding


def deflated(source: Path, target: Path, edit: Callable[[Files], None]) -> Path:
    """``rewrite`` with deflated members."""
    with zipfile.ZipFile(source) as archive:
        files = {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}
    edit(files)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"base/{name}", data)
    return target


def overlapping(source: Path, target: Path) -> Path:
    """A second directory entry, named like the first, for the first member's bytes."""
    blob = source.read_bytes()
    end = blob.rfind(b"PK\x05\x06")
    count, size, offset = struct.unpack("<2xH2L", blob[end + 8:end + 20])
    first_length = 46 + sum(struct.unpack("<3H", blob[offset + 28:offset + 34]))
    entry = bytearray(blob[offset:offset + first_length])
    name_length = struct.unpack("<H", entry[28:30])[0]  # the name follows the entry's fixed 46 bytes
    entry[46 + name_length - 1] = ord("z")  # another name (weight_z), of the same length
    directory = blob[offset:offset + size] + bytes(entry)
    record = bytearray(blob[end:end + 22])
    record[8:16] = struct.pack("<2HL", count + 1, count + 1, size + len(entry))
    target.write_bytes(blob[:offset] + directory + bytes(record))
    return target


@pytest.mark.timeout(30)
def test_a_shape_expression_too_costly_to_compute_is_refused_at_once(tmp_path: Path, base_export: Path) -> None:
    path = rewrite(base_export, tmp_path / "tower.pt2", power_tower)
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"^refused tower\.pt2: its shape expression") as refused:
        load_model(path)
    assert time.monotonic() - started < 1 and "\n" not in str(refused.value)


@pytest.mark.parametrize(("expression", "fine"), [
    ("Pow(Symbol('s0', positive=True, integer=True), Integer(2))", True),  # a square image's pixels
    ("Mul(Integer(2), PowByNatural(Symbol('s0'), 3)) + LShift(Symbol('s1'), 4)", True),
    ("Integer(9)**Integer(9)**Integer(9)", False),  # the exponent is no literal
    ("Pow(Integer(9), 65)", False),  # too large an exponent
    ("Symbol('s0') ** Symbol('s1')", False),
    ("LShift(Integer(1), Integer(2)**Integer(20))", False),
    ("((((Integer(9)**64)**64)**64)**64)", False),  # small exponents, a huge number all the same
    ("Integer(9223372036854775808)", False),  # 2**63
    ("Integer('99999999999999999999999')", False),
])
def test_shape_expressions_hold_bounded_numbers(expression: str, fine: bool) -> None:
    if fine:
        loading._check_expression(Path("m.pt2"), expression)
    else:
        with pytest.raises(ValueError, match=r"^refused m\.pt2: its shape expression"):
            loading._check_expression(Path("m.pt2"), expression)


def test_a_hint_beyond_any_size_is_refused(tmp_path: Path, base_export: Path) -> None:
    def change(program: dict) -> None:
        program["graph_module"]["graph"]["tensor_values"]["x"]["sizes"][0] = {
            "as_expr": {"expr_str": "Symbol('s0', positive=True)", "hint": {"as_int": 2**70}}}

    path = rewrite(base_export, tmp_path / "hint.pt2", lambda files: edit_json(files, "models/model.json", change))
    with pytest.raises(ValueError, match=r"^refused hint\.pt2: .*beyond any size"):
        load_model(path)


def test_a_zip_bomb_is_refused_from_its_directory_without_unpacking(tmp_path: Path, base_export: Path) -> None:
    # In a fresh process: its peak memory shows that the 100 MiB member was never unpacked.
    path = deflated(base_export, tmp_path / "bomb.pt2", zip_bomb)
    assert path.stat().st_size < 2**20
    code = f"""if True:
        import resource, sys
        from saliency_core import load_model
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            load_model({str(path)!r})
        except ValueError as err:
            print(err)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    message, grown = done.stdout.strip().splitlines()[-2:]
    assert message.startswith("refused bomb.pt2: its members unpack to") and "100 times the file's size" in message
    assert int(grown) < 30 * 1024, f"peak memory grew by {int(grown) // 1024} MiB"  # ru_maxrss: KiB


def test_overlapping_archive_members_are_refused(tmp_path: Path, base_export: Path) -> None:
    path = overlapping(base_export, tmp_path / "overlap.pt2")
    with pytest.raises(ValueError, match=r"^refused overlap\.pt2: archive member .* overlaps") as refused:
        load_model(path)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("suffix", [".pt2", ".pt", ".safetensors"])
def test_a_model_file_over_the_size_limit_is_refused_unread(tmp_path: Path, base_export: Path, suffix: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loading, "MAX_MODEL_BYTES", 1000)
    path = tmp_path / f"big{suffix}"
    path.write_bytes(base_export.read_bytes())
    with pytest.raises(ValueError, match=rf"big\{suffix}: [0-9,]+ bytes is larger than the 1,000 read for one "
                                         "model file$"):
        load_model(path)


class ScriptedClassifier(nn.Module):
    """A scripted classifier using what TorchScript offers: branches, loops, lists, dicts, tuples, strings,
    optionals, asserts and raises (the prim:: kinds on load_model's allow-list)."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)])
        self.acts = nn.ModuleDict({"a": nn.ReLU(), "b": nn.GELU()})
        self.head = nn.Linear(4, 2)
        self.names = ["cat", "dog"]
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.dim() == 4, "need NCHW"
        self.calls += 1
        if x.shape[1] != 3:
            raise RuntimeError("bad channels " + str(x.shape[1]))
        feats: list[torch.Tensor] = []
        for conv in self.convs:
            x = conv(x)
            feats.append(x)
        kept: dict[str, torch.Tensor] = {"first": feats[0]}
        for key, act in self.acts.items():
            x = act(x)
            kept[key] = x
        pair: tuple[torch.Tensor, int] = (x, len(feats))
        y, n = pair
        maybe: torch.Tensor | None = y if bool(y.sum() > 0) else None
        if maybe is not None and f"{self.names[0]}-{n}" != "x":
            y = maybe * max(1.0, abs(-1.0))
        return self.head(y.mean(dim=(2, 3))).to(x.device, x.dtype)


@pytest.mark.parametrize("build", ["script", "trace"])
def test_scripted_and_traced_classifiers_load(tmp_path: Path, build: str) -> None:
    torch.manual_seed(0)
    model = ScriptedClassifier().eval() if build == "script" else classifier()
    x = torch.rand(2, 3, 8, 8)
    scripted = torch.jit.script(model) if build == "script" else torch.jit.trace(model, x)
    scripted.save(str(tmp_path / "m.pt"))
    with torch.no_grad():
        assert torch.allclose(load_model(tmp_path / "m.pt")(x), model(x), atol=1e-6)
