"""Grad-CAM (Selvaraju et al. 2017).

With A the output of a convolutional layer [B,K,h,w] and G = ∂ logit_target / ∂A, the map is
ReLU(Σ_k mean_{hw}(G_k) · A_k), upsampled bilinearly (``align_corners=False``) to the input
size — the same as Captum's ``LayerGradCam(relu_attributions=True)`` followed by
``LayerAttribution.interpolate(..., "bilinear")``.

The layer is by default the last module, in execution order, that is or contains an
``nn.Conv2d`` and outputs a spatial map (4-D with h·w > 1); ``layer=`` overrides it with a
module name (as in ``model.named_modules()``) or the module itself. If the layer runs more than
once in a forward pass, its last call is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from saliency_core.methods.base import (
    Attribution,
    HookContext,
    Model,
    forward,
    input_gradient,
    require_gradient,
    require_module,
)


class _ExecutionOrder(HookContext):
    """Records, in completion order, the conv-containing modules that output a spatial map."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.spatial: list[str] = []

    def register(self, model: nn.Module) -> Iterator[RemovableHandle]:
        for name, module in model.named_modules():
            if name and any(isinstance(m, nn.Conv2d) for m in module.modules()):
                yield module.register_forward_hook(self._recorder(name))

    def _recorder(self, name: str) -> Callable[[nn.Module, tuple[Tensor, ...], object], None]:
        def record(module: nn.Module, inputs: tuple[Tensor, ...], output: object) -> None:
            if self.active() and isinstance(output, Tensor) and output.ndim == 4:
                if output.shape[-2] * output.shape[-1] > 1:
                    self.spatial.append(name)

        return record


class _LayerCapture(HookContext):
    """Keeps a layer's output values and, after backward, the gradient w.r.t. that output."""

    def __init__(self, model: nn.Module, layer: nn.Module) -> None:
        super().__init__(model)
        self.layer = layer
        self.activation: Tensor | None = None
        self.gradient: Tensor | None = None
        self._calls = 0

    def register(self, model: nn.Module) -> Iterator[RemovableHandle]:
        yield self.layer.register_forward_hook(self._capture)

    def _capture(self, module: nn.Module, inputs: tuple[Tensor, ...], output: object) -> None:
        if not self.active() or not isinstance(output, Tensor) or not output.requires_grad:
            return
        # A later in-place op (e.g. ReLU(inplace=True)) may overwrite the output: copy the values
        # now; a tensor hook registered now receives the gradient w.r.t. this version.
        self.activation = output.detach().clone()
        self._calls += 1
        call = self._calls
        output.register_hook(lambda grad: self._keep_gradient(call, grad))  # type: ignore[no-untyped-call]

    def _keep_gradient(self, call: int, grad: Tensor) -> None:
        # A module run several times: keep the gradient of the call whose output was kept.
        if call == self._calls:
            self.gradient = grad


def default_layer(model: nn.Module, images: Tensor) -> str:
    """Name of the last conv-containing module with a spatial output (one probe forward)."""
    with _ExecutionOrder(model) as order, torch.no_grad():
        forward(model, images[:1])
    if not order.spatial:
        raise ValueError("grad_cam found no module containing an nn.Conv2d with a spatial output; pass layer=")
    return order.spatial[-1]


def resolve_layer(model: nn.Module, layer: str | nn.Module | None, images: Tensor) -> tuple[str, nn.Module]:
    """The target layer as (name, module) from a name, a module, or automatically."""
    modules = dict(model.named_modules())
    if layer is None:
        layer = default_layer(model, images)
    if isinstance(layer, str):
        if layer not in modules or not layer:
            raise ValueError(f"grad_cam: model has no submodule named {layer!r}")
        return layer, modules[layer]
    for name, module in modules.items():
        if module is layer and name:
            return name, module
    raise ValueError("grad_cam: layer is not a submodule of the model")


def grad_cam(
    model: Model, images: Tensor, target: Tensor, *, layer: str | nn.Module | None = None
) -> Attribution:
    """Grad-CAM map of the target logit, upsampled to the input size.

    ``attributions`` is the map repeated over the input channels; ``extras`` holds the layer name
    and the signed low-resolution CAM before the ReLU (``"cam"``, [B,h,w]).
    """
    module = require_module(model, "grad_cam")
    name, layer_module = resolve_layer(module, layer, images)
    inputs = images.detach().requires_grad_(True)
    with _LayerCapture(module, layer_module) as capture, torch.enable_grad():
        logits = forward(module, inputs)
        score = logits.gather(1, target.view(-1, 1)).sum()
        require_gradient(score)
        input_gradient(score, inputs)
    activation, gradient = capture.activation, capture.gradient
    if activation is None or gradient is None or activation.ndim != 4:
        raise ValueError(f"grad_cam: layer {name!r} did not produce a 4-D output on the gradient path")
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = (weights * activation).sum(dim=1)
    upsampled = F.interpolate(cam.clamp(min=0)[:, None], size=images.shape[-2:], mode="bilinear",
                              align_corners=False)
    maps = upsampled[:, 0]
    attributions = upsampled.expand(-1, images.shape[1], -1, -1).contiguous()
    return Attribution(attributions, maps, {"layer": name, "cam": cam})
