"""ModelProcess: a user's model in a child process, stopped after a time limit per forward pass.

A scripted loop in a TorchScript forward pass cannot be interrupted in-thread; here it comes back as
a one-line ValueError a little after the limit, the child is gone, and the next call works. Results
through the child equal in-process results exactly. One normal model's process is shared by the
module (children start in ~10 ms from the forkserver, but loading and first passes cost more).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

import saliency_core as sc
from saliency_core.zoo import model_process
from saliency_core.zoo.model_process import Cancelled, ModelProcess, TimeLimitExceeded

from hanging_models import AlwaysLoops, LoopsOnImages  # tests/: the shared hanging models

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script/save

LIMIT = 2.0  # seconds per forward pass for the hanging models
SLACK = 6.0  # what a timed-out call may take beyond the limit on a busy 2-core machine


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


class Fails(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ torch.ones(5, 2)


def script(module: nn.Module, path: Path) -> Path:
    torch.jit.save(torch.jit.script(module.eval()), str(path))
    return path


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def small_file(folder: Path) -> Path:
    torch.manual_seed(3)
    model = Small()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.2, 0.2)
        model.bn.running_var.uniform_(0.5, 1.5)
    return script(model, folder / "small.pt")


@pytest.fixture(scope="module")
def small(small_file: Path) -> Iterator[ModelProcess]:
    with ModelProcess(small_file, timeout=30) as process:
        yield process


@pytest.fixture(scope="module")
def looping(folder: Path) -> Iterator[ModelProcess]:
    with ModelProcess(script(LoopsOnImages(), folder / "loops.pt"), timeout=LIMIT) as process:
        yield process


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(7))


# ------------------------------------------------------------------------------ same results


@pytest.mark.timeout(120)
@pytest.mark.parametrize("method", ["gradient_squared", "integrated_gradients", "smoothgrad", "occlusion"])
def test_results_through_the_process_equal_in_process_results(small: ModelProcess, small_file: Path,
                                                              images: torch.Tensor, method: str) -> None:
    here = sc.load_model(small_file)
    torch.manual_seed(11)  # smoothgrad without a seed draws from the global generator: the same draws
    there = small.explain(images, method, samples=3) if method == "smoothgrad" else small.explain(images, method)
    after_there = torch.rand(4)
    torch.manual_seed(11)
    local = sc.explain(here, images, method, samples=3) if method == "smoothgrad" else sc.explain(here, images, method)
    after_here = torch.rand(4)
    for field in ("maps", "attributions", "target", "probabilities"):
        assert torch.equal(getattr(there, field), getattr(local, field)), field
    assert there.method == local.method and there.extras.keys() == local.extras.keys()
    assert torch.equal(after_there, after_here)  # the global generator moved on as it would have here


@pytest.mark.timeout(120)
def test_occlusion_cells_and_logits_equal_in_process(small: ModelProcess, small_file: Path,
                                                     images: torch.Tensor) -> None:
    here = sc.load_model(small_file)
    assert torch.equal(small.occlusion(images, window=8, stride=4), sc.occlusion(here, images, window=8, stride=4))
    there, local = small.cell_occlusion(images, 3, hidden=[4]), sc.cell_occlusion(here, images, 3, hidden=[4])
    assert there.grid == local.grid and there.hidden == local.hidden
    assert torch.equal(there.base, local.base) and torch.equal(there.cells, local.cells)
    with torch.no_grad():
        assert torch.equal(small(images), here(images))  # forward: the logits from the child
    assert torch.equal(small.predict(images), here(images).argmax(1))
    assert small.outputs == 3 and small.probe_error is None
    # the module-level functions take either kind of model
    assert torch.equal(model_process.explain(small, images, "vanilla_gradient").maps,
                       model_process.explain(here, images, "vanilla_gradient").maps)


@pytest.mark.timeout(60)
def test_progress_reaches_the_caller(small: ModelProcess, images: torch.Tensor) -> None:
    calls: list[tuple[int, int]] = []
    small.occlusion(images, window=8, stride=8, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1]


# ------------------------------------------------------------------------------ time limit


@pytest.mark.timeout(60)
def test_a_looping_forward_pass_is_stopped_after_the_limit(looping: ModelProcess, images: torch.Tensor) -> None:
    pid = looping.pid
    assert pid is not None
    start = time.monotonic()
    with pytest.raises(TimeLimitExceeded) as caught:
        looping.explain(images, "gradient_squared")
    took = time.monotonic() - start
    assert LIMIT <= took < LIMIT + SLACK
    message = str(caught.value)
    assert "\n" not in message and isinstance(caught.value, ValueError)
    assert message.startswith("loops.pt: a forward pass did not finish within 2 s; stopped")
    assert "raise the limit with timeout=" in message
    assert gone_within(pid, 2) and not looping.running
    # the next call starts a new child (the file's bytes were kept): the zero image does not loop
    assert looping.logits(torch.zeros(1, 3, 8, 8)).shape == (1, 2)
    assert looping.pid not in (None, pid)


@pytest.mark.timeout(60)
def test_the_limit_is_per_forward_pass_and_can_change(looping: ModelProcess) -> None:
    looping.timeout = 30
    try:
        assert looping.timeout == 30
        with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
            looping.timeout = 0
    finally:
        looping.timeout = LIMIT


@pytest.mark.timeout(60)
def test_a_model_that_loops_on_every_input_is_caught_when_loaded(folder: Path) -> None:
    path = script(AlwaysLoops(), folder / "always.pt")
    before = {p.pid for p in multiprocessing.active_children()}
    start = time.monotonic()
    with pytest.raises(TimeLimitExceeded, match=r"^always\.pt: a forward pass did not finish within 2 s"):
        ModelProcess(path, timeout=LIMIT)
    assert time.monotonic() - start < LIMIT + SLACK
    assert {p.pid for p in multiprocessing.active_children()} <= before  # its child is gone


@pytest.mark.timeout(60)
def test_cancel_from_another_thread_stops_a_running_call(looping: ModelProcess, images: torch.Tensor) -> None:
    looping.timeout = 30
    try:
        looping.logits(torch.zeros(1, 3, 8, 8))  # a running child
        pid = looping.pid
        assert pid is not None
        cancelled_at: list[float] = []

        def cancel_when_running() -> None:
            while not looping.busy:
                time.sleep(0.01)
            time.sleep(0.5)  # in the loop by now
            cancelled_at.append(time.monotonic())
            looping.cancel()

        threading.Thread(target=cancel_when_running, daemon=True).start()
        with pytest.raises(Cancelled, match=r"^loops\.pt: stopped \(cancelled\)$"):
            looping.logits(torch.ones(1, 3, 8, 8))
        assert time.monotonic() - cancelled_at[0] < 3
        assert gone_within(pid, 2)
    finally:
        looping.timeout = LIMIT
    looping.cancel()  # nothing runs: nothing happens
    assert looping.logits(torch.zeros(1, 3, 8, 8)).shape == (1, 2)


class Rerun(Exception):
    """Stands for Streamlit's RerunException/StopException, raised in the waiting thread."""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("interrupt", [Rerun, KeyboardInterrupt])
def test_an_exception_while_waiting_kills_the_child(looping: ModelProcess, interrupt: type[BaseException]) -> None:
    looping.timeout = 30
    try:
        looping.logits(torch.zeros(1, 3, 8, 8))
        pid = looping.pid
        assert pid is not None
        waited: list[float] = []

        def on_wait(seconds: float) -> None:
            waited.append(seconds)
            if seconds > 0.5:
                raise interrupt()

        with pytest.raises(interrupt):
            looping.logits(torch.ones(1, 3, 8, 8), on_wait=on_wait)
        assert waited and waited[-1] < 3
        assert gone_within(pid, 2)  # nothing keeps burning a core
    finally:
        looping.timeout = LIMIT


# ------------------------------------------------------------------------------ errors


@pytest.mark.timeout(60)
def test_errors_in_the_child_are_one_line_value_errors(folder: Path, small: ModelProcess,
                                                       images: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="unknown saliency method 'nope'") as caught:
        small.explain(images, "nope")
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="steps") as caught:
        small.explain(images, "integrated_gradients", steps=-1)
    with ModelProcess(script(Fails(), folder / "fails.pt"), timeout=30) as failing:
        assert failing.probe_error is not None and "fails.pt" in failing.probe_error  # the probe's error: ignored
        with pytest.raises(ValueError) as caught:
            failing.explain(images, "gradient_squared")
    message = str(caught.value)
    assert message.startswith("fails.pt failed on input of shape (2, 3, 24, 24)")
    assert "\n" not in message and "Traceback" not in message and "HERE" not in message


def test_files_that_are_no_models_are_refused_as_load_model_refuses_them(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt2"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError) as caught:
        sc.load_model(junk)
    with pytest.raises(ValueError) as through:
        ModelProcess(junk)
    assert str(through.value) == str(caught.value)
    with pytest.raises(FileNotFoundError):
        ModelProcess(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="directory"):
        ModelProcess(tmp_path)


def test_an_option_that_cannot_cross_processes_is_named(small: ModelProcess, images: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="^layer: a Linear cannot be sent"):
        small.explain(images, "grad_cam", layer=nn.Linear(1, 1))


# ------------------------------------------------------------------------------ leaks


@pytest.mark.timeout(60)
def test_the_child_ends_with_its_model_process(small_file: Path) -> None:
    process = ModelProcess(small_file, probe_size=None)
    pid = process.pid
    assert pid is not None and alive(pid)
    del process
    gc.collect()
    assert gone_within(pid, 5)


@pytest.mark.timeout(60)
def test_an_idle_child_exits_and_comes_back(small_file: Path, images: torch.Tensor) -> None:
    with ModelProcess(small_file, idle_timeout=0.5, probe_size=None) as process:
        pid = process.pid
        assert pid is not None and gone_within(pid, 5)
        assert process.predict(images).shape == (2,)  # started again
        assert process.pid not in (None, pid)


@pytest.mark.timeout(60)
def test_at_most_so_many_children_live(small_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ModelProcess(small_file, probe_size=None)
    monkeypatch.setenv(model_process.MAX_PROCESSES_ENV, "1")
    others = [p for p in model_process.live_processes() if p is not first]
    with ModelProcess(small_file, probe_size=None) as second:
        assert not first.running and all(not p.running for p in others)  # the least recently used idle ones
        assert second.running and model_process.live_processes() == [second]
    assert first.predict(torch.rand(1, 3, 8, 8)).shape == (1,)  # a stopped one starts again when used
    first.close()
    with pytest.raises(ValueError, match="closed"):
        first.predict(torch.rand(1, 3, 8, 8))


@pytest.mark.timeout(90)
def test_a_child_whose_caller_dies_ends(small_file: Path, tmp_path: Path) -> None:
    caller = textwrap.dedent(f"""
        import os, sys
        from saliency_core.zoo.model_process import ModelProcess
        if __name__ == "__main__":
            process = ModelProcess({str(small_file)!r}, probe_size=None)
            print(process.pid, flush=True)
            os._exit(0)  # no finalizers, no atexit: as if killed
    """)
    script_file = tmp_path / "caller.py"
    script_file.write_text(caller)
    done = subprocess.run([sys.executable, str(script_file)], capture_output=True, text=True, timeout=80,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(Path(sc.__file__).parents[1])})
    assert done.returncode == 0, done.stderr
    assert gone_within(int(done.stdout.split()[0]), 5)
