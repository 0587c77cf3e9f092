"""fold_batchnorm: the folded model computes the same function (up to float rounding), with fewer
tensors kept for backward."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from saliency_core.zoo.early_cut import EarlyCut
from saliency_core.zoo.efficientnet import pretrained_model
from saliency_core.zoo.fold import fold_batchnorm


def _randomised(model: nn.Module) -> nn.Module:
    """Non-trivial statistics where a batch norm still has its initial ones (the pretrained trunk's
    are kept)."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d) and bool((module.running_var == 1).all()):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.2)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.3)
    return model.eval()


def _saved_bytes(model: nn.Module, images: Tensor) -> int:
    seen: dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        seen[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(images.requires_grad_(True))
    return sum(seen.values())


@pytest.mark.parametrize("make", [lambda: pretrained_model(seed=0), lambda: EarlyCut(seed=0)], ids=["lite0", "early_cut"])
def test_folded_model_equals_the_original_in_outputs_and_input_gradients(make) -> None:  # type: ignore[no-untyped-def]
    original = _randomised(make())
    folded = fold_batchnorm(_randomised(make()))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    images = torch.rand(3, 3, 96, 96)
    a, b = images.clone().requires_grad_(True), images.clone().requires_grad_(True)
    out_a, out_b = original(a), folded(b)
    torch.testing.assert_close(out_b, out_a, atol=1e-4, rtol=1e-4)
    out_a[:, 0].sum().backward()
    out_b[:, 0].sum().backward()
    # ReLU6's gates flip where a value sits at a kink within float rounding: a few pixels differ
    close = torch.isclose(b.grad, a.grad, atol=1e-5, rtol=1e-3)
    assert close.float().mean() > 0.995
    assert torch.corrcoef(torch.stack([a.grad.flatten(), b.grad.flatten()]))[0, 1] > 0.999


def test_folded_model_keeps_fewer_tensors_for_backward() -> None:
    model = pretrained_model(seed=0).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    images = torch.rand(2, 3, 64, 64)
    before = _saved_bytes(model, images.clone())
    after = _saved_bytes(fold_batchnorm(model), images.clone())
    assert after < 0.9 * before  # 128² photos, 4 at a time: 77 instead of 111 MB


class _Branching(nn.Module):
    """A convolution whose output is read twice: its batch norm must not be folded."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.norm = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        return self.norm(y) + y


def test_only_a_batch_norm_right_after_a_convolution_in_a_sequential_is_folded() -> None:
    model = _randomised(nn.Sequential(_Branching(), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1), nn.ReLU(), nn.BatchNorm2d(2)))
    images = torch.rand(2, 3, 8, 8)
    expected = model(images)
    fold_batchnorm(model)
    assert isinstance(model[0].norm, nn.BatchNorm2d) and isinstance(model[1], nn.BatchNorm2d)
    assert isinstance(model[4], nn.BatchNorm2d)  # after a ReLU, not a convolution
    torch.testing.assert_close(model(images), expected)


def test_training_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="model must be in eval mode"):
        fold_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))
