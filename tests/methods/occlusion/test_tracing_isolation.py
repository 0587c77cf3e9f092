"""The exact occlusion engine's torch.fx tracing is invisible to every other thread.

torch.fx patches ``nn.Module.__call__``, ``nn.Module.__getattr__``, the autowrapped ``math``
functions (in ``math`` and in the traced forward's module: ``sqrt`` below) and its "tracing" flag
for the whole process while it traces. Each race below runs exact occlusion (a fresh trace per call)
in one thread and plain forwards in a tight loop in another, and counts the forwards that ran while
the patches were installed, so that a pass cannot come from threads that never overlapped.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from math import sqrt  # a module-level math name: torch.fx autowraps it while tracing this module's forwards

import pytest
import torch
from torch import Tensor, fx, nn
from torch.fx import _symbolic_trace as torch_fx

from saliency_core.methods.occlusion import occlusion
from saliency_core.methods.occlusion.plan import build_plan
from saliency_core.methods.occlusion.tracing import symbolic_trace

ORIGINAL_CALL = nn.Module.__call__
ORIGINAL_GETATTR = nn.Module.__getattr__
ORIGINAL_SQRT = math.sqrt
TRACES = 12
IMAGES = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))


class Traced(nn.Module):
    """A CNN the exact engine supports. While traced it waits a few milliseconds (with the patches
    installed), so the other thread runs many forwards inside every trace; each forward records
    its thread and whether torch.fx said it was tracing there."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.head = nn.Linear(8, 2)
        self.seen: list[tuple[int, bool]] = []

    def forward(self, x: Tensor) -> Tensor:
        tracing = bool(torch_fx.is_fx_symbolic_tracing())
        self.seen.append((threading.get_ident(), tracing))
        if tracing:
            time.sleep(0.005)
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.head(x.mean((2, 3)))


class Plain(nn.Module):
    """Goes through everything a trace patches: submodule calls, a parameter read through
    ``nn.Module.__getattr__``, ``math.floor`` and this module's ``sqrt``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.scale = nn.Parameter(torch.tensor(0.5))
        self.head = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.conv(x)) * self.scale * sqrt(2.0) + math.floor(1.5)
        return self.head(x.mean((2, 3)))


def _seeded(cls: type[nn.Module], seed: int = 5) -> nn.Module:
    torch.manual_seed(seed)
    return cls().eval()


@dataclass
class Forwards:
    count: int = 0
    while_patched: int = 0  # forwards started while a trace had nn.Module.__call__ patched
    errors: int = 0
    mismatches: int = 0
    first_error: str = ""


def _forwards_beside(work: Callable[[], None], model: nn.Module) -> Forwards:
    """Run ``work`` in a thread while this thread runs ``model`` on IMAGES in a tight loop until
    ``work`` ends; ``work``'s own exceptions are raised here."""
    with torch.no_grad():
        expected = model(IMAGES)
    done, failures = threading.Event(), []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=run)
    tally = Forwards()
    thread.start()
    while not done.is_set():
        tally.count += 1
        tally.while_patched += nn.Module.__call__ is not ORIGINAL_CALL
        try:
            with torch.no_grad():
                out = model(IMAGES)
            tally.mismatches += not torch.equal(out, expected)
        except Exception as error:  # the bug: the other thread's forwards went through the tracer
            tally.errors += 1
            tally.first_error = tally.first_error or f"{type(error).__name__}: {error}"
    thread.join()
    if failures:
        raise failures[0]
    return tally


def _occlude(expected: Tensor, subject: Callable[[], nn.Module]) -> None:
    """TRACES exact occlusions of ``subject()`` (each traces it afresh: plans are never cached),
    each map equal to ``expected``."""
    for _ in range(TRACES):
        maps = occlusion(subject(), IMAGES, window=4, stride=4, mode="exact")
        assert torch.equal(maps, expected)


def _copy(model: nn.Module) -> Callable[[], nn.Module]:
    """New instances with ``model``'s weights."""
    state = model.state_dict()

    def make() -> nn.Module:
        fresh = Traced().eval()
        fresh.load_state_dict(state)
        return fresh

    return make


@pytest.fixture
def traced() -> nn.Module:
    model = _seeded(Traced)
    # The exact engine must really trace this model (not fall back to full inference).
    assert build_plan(model, IMAGES, (4, 4), (4, 4)) is not None
    return model


def _assert_unpatched() -> None:
    assert nn.Module.__call__ is ORIGINAL_CALL
    assert nn.Module.__getattr__ is ORIGINAL_GETATTR
    assert math.sqrt is ORIGINAL_SQRT and sqrt is ORIGINAL_SQRT
    assert torch_fx._is_fx_tracing_flag is False


def test_occlusion_leaves_another_models_forwards_in_another_thread_intact(traced: nn.Module) -> None:
    expected = occlusion(traced, IMAGES, window=4, stride=4, mode="exact")
    tally = _forwards_beside(lambda: _occlude(expected, _copy(traced)), _seeded(Plain))
    assert (tally.errors, tally.mismatches) == (0, 0), tally.first_error
    assert tally.while_patched > 0, f"no forward overlapped a trace ({tally.count} forwards)"
    _assert_unpatched()


def test_occlusion_leaves_concurrent_forwards_of_the_same_model_intact(traced: nn.Module) -> None:
    # One model served to two sessions: its parameters (nn.Module.__getattr__) become proxies and
    # its submodule calls graph nodes for every thread that runs it during an unisolated trace.
    expected = occlusion(traced, IMAGES, window=4, stride=4, mode="exact")
    traced.seen.clear()
    tally = _forwards_beside(lambda: _occlude(expected, lambda: traced), traced)
    assert (tally.errors, tally.mismatches) == (0, 0), tally.first_error
    assert tally.while_patched > 0, f"no forward overlapped a trace ({tally.count} forwards)"
    here = threading.get_ident()
    assert not any(tracing for thread, tracing in traced.seen if thread == here)  # is_fx_tracing() false here
    assert sum(tracing for thread, tracing in traced.seen if thread != here) == TRACES  # and true there
    _assert_unpatched()


class Autowrapped(nn.Module):
    """Autowrapped math on a proxy, a parameter read inside a functional call, a submodule call."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 3, 3, 3))
        self.head = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.conv2d(x, self.weight) / sqrt(x.shape[1])
        return self.head(x.mean((2, 3)))


def test_isolated_trace_records_the_graph_torch_fx_records() -> None:
    model = _seeded(Autowrapped)
    ours, theirs = symbolic_trace(model), fx.symbolic_trace(model)
    assert ours.code == theirs.code
    assert any(node.target is ORIGINAL_SQRT for node in ours.graph.nodes)  # the autowrap acted while tracing
    assert torch.equal(ours(IMAGES), model(IMAGES))
    _assert_unpatched()


def test_a_failed_trace_leaves_nothing_patched() -> None:
    class Branching(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return x if x.sum() > 0 else -x  # data-dependent control flow: tracing fails

    with pytest.raises(Exception, match="control flow"):
        symbolic_trace(Branching())
    _assert_unpatched()
