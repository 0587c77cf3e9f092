"""Hostile and careless input to the methods and metrics: every mistake a one-line ValueError that names it.

Two corpora, generated here: images outside [0, 1] (0..255 pixels, normalised images, a jitter past
1) fed to every public entry point that takes images, and models that fail in every way a user's
model can (a TorchScript ``raise``, a Python exception of any class, integer logits, a failing
backward) fed to every method.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from method_models import SmallCNN
from torch import Tensor, nn

from saliency_core.checks import RANGE_TOLERANCE
from saliency_core.methods import METHODS, explain
from saliency_core.methods.occlusion import cell_grid, cell_occlusion, hide_cells, occlusion
from saliency_core.metrics import (
    cascading_randomisation,
    core_spurious_accuracy,
    flip_rates,
    flips,
    greyscale,
    hue_shift,
)
from saliency_core.metrics.predict import predict

# torch.jit is deprecated upstream but still what users hand us.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MEAN, STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
LABELS = torch.tensor([0, 1])
BOX = (0, 0, 4, 4)


def _good() -> Tensor:
    return torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(4))


def _one_pixel(value: float) -> Tensor:
    images = _good()
    images[1, 2, 3, 4] = value
    return images


# --------------------------------------------------------------------------- images outside [0, 1]

DIVIDE = r"images must be in \[0, 1\]: values up to [\d.]+ — divide by 255"
NORMALISED = r"images must be in \[0, 1\]: negative values — pass unnormalised pixels, the model normalises"
CLAMP = r"images must be in \[0, 1\]: values up to [\d.]+ — clamp them to \[0, 1\]"
OUT_OF_RANGE: dict[str, tuple[Callable[[], Tensor], str]] = {
    "0..255 pixels": (lambda: (_good() * 255).round(), DIVIDE),
    "one pixel at 255": (lambda: _one_pixel(255.0), DIVIDE),
    "ImageNet-normalised": (lambda: (_good() - MEAN.view(3, 1, 1)) / STD.view(3, 1, 1), NORMALISED),
    "one pixel slightly negative": (lambda: _one_pixel(-0.01), NORMALISED),
    "brightness jitter past 1": (lambda: _good() * 1.1, CLAMP),
}


# Small options, so every method runs in milliseconds on 8x8 images.
OPTIONS: dict[str, dict[str, Any]] = {"occlusion": {"window": 4, "stride": 4}, "smoothgrad": {"samples": 2},
                                      "smoothgrad_squared": {"samples": 2}, "integrated_gradients": {"steps": 2}}


def _explain(method: str) -> Callable[[Any, Tensor], Any]:
    return lambda model, x: explain(model, x, method, **OPTIONS.get(method, {}))


def _explain_fn(model: nn.Module, images: Tensor) -> Tensor:
    return explain(model, images, "vanilla_gradient").maps


ENTRY_POINTS: dict[str, Callable[[nn.Module, Tensor], Any]] = {
    **{f"explain {m}": _explain(m) for m in METHODS},
    "occlusion": lambda model, x: occlusion(model, x, window=4, stride=4),
    "occlusion fast": lambda model, x: occlusion(model, x, window=4, stride=4, mode="fast"),
    "cell_occlusion": lambda model, x: cell_occlusion(model, x, 2),
    "hide_cells": lambda model, x: hide_cells(x, cell_grid(2, 8), [0]),
    "predict": predict,
    "flips": lambda model, x: flips(model, x, greyscale),
    "flip_rates": lambda model, x: flip_rates(model, x, LABELS, greyscale),
    "core_spurious_accuracy": lambda model, x: core_spurious_accuracy(model, x, LABELS, torch.tensor(BOX), [0.5]),
    "greyscale": lambda model, x: greyscale(x),
    "hue_shift": lambda model, x: hue_shift(x, 90.0),
    "cascading_randomisation": lambda model, x: cascading_randomisation(model, x, _explain_fn, layers=["head"]),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("case", list(OUT_OF_RANGE))
def test_images_outside_the_unit_range_are_refused_saying_what_was_meant(
    small_cnn: SmallCNN, entry: str, case: str
) -> None:
    make, says = OUT_OF_RANGE[case]
    with pytest.raises(ValueError) as caught:
        ENTRY_POINTS[entry](small_cnn, make())
    assert re.fullmatch(says, str(caught.value)), str(caught.value)


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_rounding_within_the_tolerance_of_the_unit_range_is_accepted(small_cnn: SmallCNN, entry: str) -> None:
    images = _good()
    images[0, 0, 0, 0] = -0.9 * RANGE_TOLERANCE
    images[1, 1, 1, 1] = 1 + 0.9 * RANGE_TOLERANCE
    ENTRY_POINTS[entry](small_cnn, images)  # no ValueError


@pytest.mark.parametrize("method", ["smoothgrad", "smoothgrad_squared"])
def test_smoothgrads_noisy_copies_outside_the_unit_range_are_not_refused(small_cnn: SmallCNN, method: str) -> None:
    # σ = 2 × each image's range: nearly every noisy pixel is outside [0, 1], by design.
    exp = explain(small_cnn, _good(), method, samples=4, stdev_spread=2.0, seed=0)
    assert torch.isfinite(exp.maps).all()


def test_core_spurious_noise_outside_the_unit_range_is_not_refused(small_cnn: SmallCNN) -> None:
    table = core_spurious_accuracy(small_cnn, _good(), LABELS, torch.tensor(BOX), [3.0])
    assert table["accuracy"].between(0, 1).all()


def test_a_transform_that_leaves_the_unit_range_is_named_as_the_transforms(small_cnn: SmallCNN) -> None:
    message = r"^transformed images must be in \[0, 1\]: values up to [\d.]+ — divide by 255$"
    with pytest.raises(ValueError, match=message):
        flips(small_cnn, _good(), lambda x: x * 255)


# --------------------------------------------------------------------------- models that fail


class Raises(nn.Module):
    """Raises ``error`` on every forward pass (after a real layer, as a model's own check would)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.inner = SmallCNN()
        self.error = error

    def forward(self, x: Tensor) -> Tensor:
        self.inner(x)
        raise self.error


class ScriptedRaise(nn.Module):
    """A TorchScript ``raise``: it surfaces as ``torch.jit.Error``, which is no RuntimeError."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = SmallCNN()

    def forward(self, x: Tensor) -> Tensor:
        if bool(x.amax() > -1.0):
            raise ValueError("this model only takes photos of dogs")
        return self.inner(x)


class Cast(nn.Module):
    """Logits cast to ``dtype`` (int64 after a rounding "quantisation", bool after a threshold)."""

    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        self.inner = SmallCNN()
        self.dtype = dtype

    def forward(self, x: Tensor) -> Tensor:
        return (self.inner(x) * 100).to(self.dtype)


def _divides_by_zero(x: Tensor) -> Tensor:  # a plain callable, not an nn.Module
    return x * (1 / 0)


@dataclass(frozen=True)
class Failing:
    make: Callable[[], Any]
    says: str  # what the one-line message must contain (a regular expression)


FAILING_MODELS: dict[str, Failing] = {
    "TorchScript raise": Failing(lambda: torch.jit.script(ScriptedRaise()),
                                 r"the model failed on images .*TorchScript.*only takes photos of dogs$"),
    # A ValueError is the model's own word to people (a loaded model's wrapper names its file): kept, one line.
    "ValueError over two lines": Failing(lambda: Raises(ValueError("bad\nweights")), r"^bad weights$"),
    "KeyError": Failing(lambda: Raises(KeyError("fc.weight")), r"KeyError: 'fc.weight'"),
    "bare AssertionError": Failing(lambda: Raises(AssertionError()),
                                   r"failed on images of shape \(2, 3, 8, 8\): AssertionError$"),
    "TypeError about a keyword": Failing(lambda: Raises(TypeError("forward() got an unexpected keyword argument 'x'")),
                                         r"the model failed .*TypeError: forward\(\) got an unexpected keyword"),
    "ZeroDivisionError in a function": Failing(lambda: _divides_by_zero, r"ZeroDivisionError: division by zero$"),
    "int64 logits": Failing(lambda: Cast(torch.int64),
                            r"^the model returns integer logits \(int64\); saliency needs float logits$"),
    "scripted int64 logits": Failing(lambda: torch.jit.script(Cast(torch.int64)),
                                     r"^the model returns integer logits \(int64\); saliency needs float logits$"),
    "bool logits": Failing(lambda: Cast(torch.bool), r"^the model returns boolean logits \(bool\); saliency needs"),
}

RUNS: dict[str, Callable[[Any, Tensor], Any]] = {
    **{f"explain {m}": _explain(m) for m in METHODS},
    "occlusion exact": lambda model, x: occlusion(model, x, window=4, stride=4),
    "occlusion naive": lambda model, x: occlusion(model, x, window=4, stride=4, mode="naive"),
    "occlusion fast": lambda model, x: occlusion(model, x, window=4, stride=4, mode="fast"),
    "cell_occlusion": lambda model, x: cell_occlusion(model, x, 2),
    "cell_occlusion full inference": lambda model, x: cell_occlusion(model, x, 2, exact_engine=False),
}


@pytest.mark.parametrize("run", list(RUNS))
@pytest.mark.parametrize("case", list(FAILING_MODELS))
def test_a_failing_model_is_one_line_naming_what_it_raised(case: str, run: str) -> None:
    torch.manual_seed(0)
    failing = FAILING_MODELS[case]
    with pytest.raises(ValueError) as caught:
        RUNS[run](failing.make(), _good())
    message = str(caught.value)
    assert "\n" not in message
    assert re.search(failing.says, message), message


class FailingBackward(torch.autograd.Function):
    """The identity, whose backward raises (a user's custom autograd function)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        raise KeyError("no backward for this layer")


class BackwardFails(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = SmallCNN()

    def forward(self, x: Tensor) -> Tensor:
        return self.inner(FailingBackward.apply(x))


@pytest.mark.parametrize("method", [m for m in METHODS if m != "occlusion"])
def test_a_backward_pass_that_fails_is_one_line_naming_it(method: str) -> None:
    with pytest.raises(ValueError, match=r"^the model's backward pass failed: KeyError: 'no backward for this layer'$"):
        _explain(method)(BackwardFails().eval(), _good())


@pytest.mark.parametrize("case", ["TorchScript raise", "KeyError", "bare AssertionError"])
def test_a_failing_model_in_the_metrics_is_one_line_naming_what_it_raised(case: str) -> None:
    failing = FAILING_MODELS[case]
    for run in (predict, lambda model, x: flips(model, x, greyscale)):
        with pytest.raises(ValueError) as caught:
            run(failing.make(), _good())
        assert "\n" not in str(caught.value) and str(caught.value).startswith("the model failed")
