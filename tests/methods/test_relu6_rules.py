"""Guided backprop and the rectified gradient on ReLU6 networks (EfficientNet-Lite, the zoo's
backbone) against a hand-written guided ReLU6 in autograd."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from saliency_core.methods import explain


class _GuidedRelu6(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return x.clamp(0, 6)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad.clamp(min=0) * ((x > 0) & (x < 6)).to(grad.dtype)


class Relu6Net(nn.Module):
    def __init__(self, guided: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, groups=8)  # depthwise, as in MBConv
        self.fc = nn.Linear(8, 2)
        self.guided = guided
        self.act1, self.act2 = nn.ReLU6(), nn.ReLU6()

    def _act(self, module: nn.Module, x: Tensor) -> Tensor:
        return _GuidedRelu6.apply(x) if self.guided else module(x)

    def forward(self, x: Tensor) -> Tensor:
        h = self._act(self.act1, 20 * self.conv1(x))  # scaled so some units pass 6 and saturate
        h = self._act(self.act2, self.conv2(h))
        return self.fc(h.mean((2, 3)))


def test_guided_backprop_gates_relu6_like_a_guided_relu6() -> None:
    images = torch.rand(3, 3, 16, 16)
    model, reference = Relu6Net().eval(), Relu6Net(guided=True).eval()
    reference.load_state_dict(model.state_dict())
    target = torch.tensor([0, 1, 0])
    ours = explain(model, images, "guided_backprop", target=target).attributions
    x = images.clone().requires_grad_(True)
    reference(x).gather(1, target[:, None]).sum().backward()
    assert (20 * model.conv1(images) > 6).any()  # the saturated side of ReLU6 is exercised
    torch.testing.assert_close(ours, x.grad, atol=1e-6, rtol=1e-5)


def test_rectified_gradient_runs_on_a_relu6_network() -> None:
    result = explain(Relu6Net().eval(), torch.rand(2, 3, 16, 16), "rectified_gradient")
    assert result.maps.shape == (2, 16, 16) and torch.isfinite(result.maps).all()
