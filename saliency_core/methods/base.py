"""What every saliency method shares: the forward pass and target, the target gradient, hook contexts.

The hook contexts follow Zennit's ``Attributor``: hooks are registered on ``__enter__`` and always
removed on ``__exit__`` (also when an exception is raised), and a subclass overrides one method.
They never change the user's model otherwise: no module is swapped, no ``inplace`` flag touched.
"""

from __future__ import annotations

import numbers
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar, Union

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from saliency_core.checks import check_logits
from saliency_core.errors import one_line_error

# Anything that maps images [B,C,H,W] to logits [B,K]: an nn.Module or a TorchScript module.
Model = Union[nn.Module, torch.jit.ScriptModule, Callable[[Tensor], Tensor]]
Target = Union[int, Sequence[int], Tensor, None]
Progress = Callable[[int, int], None]
Context = TypeVar("Context", bound="HookContext")


@dataclass(frozen=True)
class Attribution:
    """What a method returns: raw signed ``attributions`` [B,C,H,W] and the display ``maps`` [B,H,W]."""

    attributions: Tensor
    maps: Tensor
    extras: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- forward pass and target


def model_failure(error: Exception, context: str) -> ValueError:
    """The one-line ValueError for ``error``, raised by a user's model: ``context: what it raised``.

    torch's own errors read as they are; any other class is named (a ``KeyError`` may say just
    ``'k'``). A ValueError is already the model's word to people (a loaded model's wrapper names
    its file): it keeps its message, on one line. A TorchScript ``raise`` is a ``torch.jit.Error``.
    """
    if isinstance(error, ValueError):
        return ValueError(one_line_error(error))
    said = one_line_error(error, 400, typed=not isinstance(error, (RuntimeError, torch.jit.Error)))
    return ValueError(f"{context}: {said}")


def forward(model: Model, images: Tensor) -> Tensor:
    """Run the model and check its output; whatever the model raises is a one-line ValueError."""
    try:
        logits = model(images)
    except Exception as error:
        kind = "grayscale images" if images.shape[1] == 1 else "images"
        hint = " (wrong size or channels?)" if isinstance(error, RuntimeError) else ""
        raise model_failure(error, f"the model failed on {kind} of shape {tuple(images.shape)}{hint}") from error
    return check_logits(logits, images.shape[0])


def check_target(target: Target, logits: Tensor) -> Tensor:
    """Resolve ``target`` (None = the predicted class, an int, or one index per image) to LongTensor[B]."""
    batch, classes = logits.shape
    if target is None:
        return logits.argmax(dim=1)
    if isinstance(target, bool):
        raise ValueError("target must be an int, a sequence of ints or an integer tensor, not a bool")
    if isinstance(target, numbers.Integral):
        resolved = torch.full((batch,), int(target), dtype=torch.long)
    elif isinstance(target, Tensor):
        if target.dtype.is_floating_point or target.dtype == torch.bool or target.is_complex():
            raise ValueError(f"target must be an integer tensor, got {target.dtype}")
        resolved = target.reshape(-1).long() if target.ndim <= 1 else target.long()
        if target.ndim == 0:
            resolved = resolved.expand(batch)
    elif isinstance(target, Sequence) and all(
        isinstance(t, numbers.Integral) and not isinstance(t, bool) for t in target
    ):
        resolved = torch.tensor([int(t) for t in target], dtype=torch.long)
    else:
        raise ValueError(f"target must be an int, a sequence of ints or an integer tensor, got {target!r}")
    if resolved.shape != (batch,):
        raise ValueError(f"target must hold one class per image ({batch}), got shape {tuple(resolved.shape)}")
    if bool((resolved < 0).any()) or bool((resolved >= classes).any()):
        raise ValueError(f"target {resolved.tolist()} out of range for a model with {classes} classes")
    return resolved.to(logits.device)


def require_module(model: Model, method: str) -> nn.Module:
    """Hook-based methods need a plain ``nn.Module``: TorchScript modules cannot be hooked."""
    if isinstance(model, torch.jit.ScriptModule):
        raise ValueError(f"{method} needs hooks and does not work on a TorchScript module; pass the nn.Module")
    if not isinstance(model, nn.Module):
        raise ValueError(f"{method} needs hooks, so the model must be an nn.Module, got {type(model).__name__}")
    return model


# --------------------------------------------------------------------------- gradients


def require_gradient(logits: Tensor) -> None:
    """A model that detaches its input (or runs under no_grad inside) cannot be explained."""
    if not logits.requires_grad:
        raise ValueError("the model's logits carry no gradient w.r.t. the images (detached inside?)")


def input_gradient(output: Tensor, inputs: Tensor, *, retain_graph: bool = False) -> Tensor | None:
    """∂ ``output`` / ∂ ``inputs`` (None where unused); the model's backward pass failing (a
    custom autograd function's ``backward`` raising, say) is a one-line ValueError."""
    try:
        (grad,) = torch.autograd.grad(output, inputs, retain_graph=retain_graph, allow_unused=True)
    except Exception as error:
        raise model_failure(error, "the model's backward pass failed") from error
    return grad


def target_gradient(model: Model, images: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """∂ logit_target / ∂ images for every image, and the logits.

    ``torch.autograd.grad`` w.r.t. the input only, so parameter ``.grad`` never accumulates.
    """
    inputs = images.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = forward(model, inputs)
        score = logits.gather(1, target.view(-1, 1)).sum()
        require_gradient(score)
        grad = input_gradient(score, inputs)
    return (torch.zeros_like(inputs) if grad is None else grad), logits.detach()


# --------------------------------------------------------------------------- display maps


def max_abs_over_channels(attributions: Tensor) -> Tensor:
    """Display map of gradient-like attributions: the largest magnitude over channels [B,H,W]."""
    return attributions.abs().amax(dim=1)


def sum_abs_over_channels(attributions: Tensor) -> Tensor:
    """Display map of input-times-gradient-like attributions: summed magnitude over channels."""
    return attributions.abs().sum(dim=1)


# --------------------------------------------------------------------------- hook contexts


class HookContext(ABC):
    """Registers hooks on a model on enter and removes every one of them on exit.

    Subclasses override :meth:`register`. Hooks only act in the thread that entered the context,
    so another thread running the same model meanwhile is not affected.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._handles: list[RemovableHandle] = []
        self._thread = 0

    @abstractmethod
    def register(self, model: nn.Module) -> Iterator[RemovableHandle]:
        """Register the hooks on ``model``, yielding each handle as soon as it exists.

        Yielding one by one means that if registration fails half-way, the hooks already
        registered are still removed.
        """

    def active(self) -> bool:
        """Whether a hook call belongs to the thread that entered this context."""
        return threading.get_ident() == self._thread

    def __enter__(self: Context) -> Context:
        self._thread = threading.get_ident()
        try:
            for handle in self.register(self.model):
                self._handles.append(handle)
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every registered hook (idempotent)."""
        while self._handles:
            self._handles.pop().remove()


RELUS = (nn.ReLU, nn.ReLU6)  # ReLU6: MobileNet/EfficientNet-Lite (the zoo's backbone)


class ReluGradientRule(HookContext):
    """Replaces the gradient arriving at every ``nn.ReLU`` / ``nn.ReLU6`` output by ``rule(activation, grad)``.

    A forward hook on each ReLU module attaches a tensor hook to that call's output, so in-place
    ReLUs and one ReLU module reused at several places are handled call by call. Autograd then
    applies the ReLU's own derivative (the gate ``input > 0``; ``0 < input < 6`` for ReLU6) to the
    rule's result. (Captum hooks ``nn.ReLU`` only: on a ReLU6 network its guided backprop is the
    plain gradient.)
    """

    @abstractmethod
    def rule(self, activation: Tensor, grad: Tensor) -> Tensor:
        """The modified gradient w.r.t. a ReLU output, given that output and its gradient."""

    def register(self, model: nn.Module) -> Iterator[RemovableHandle]:
        relus = [module for module in model.modules() if isinstance(module, RELUS)]
        if not relus:
            raise ValueError(
                f"{type(self).__name__} modifies nn.ReLU / nn.ReLU6 modules and the model has none "
                "(functional relu calls cannot be hooked)"
            )
        for relu in relus:
            yield relu.register_forward_hook(self._attach)

    def _attach(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        if not self.active() or not output.requires_grad:
            return
        # ReLU's backward saves its output, so a valid model never modifies it in place later:
        # keeping a detached reference (not a copy) is enough.
        activation = output.detach()
        output.register_hook(lambda grad: self.rule(activation, grad))  # type: ignore[no-untyped-call]
