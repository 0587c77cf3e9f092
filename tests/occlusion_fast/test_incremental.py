"""Incremental occlusion equals full inference: an independent naive loop and Captum's Occlusion."""

from __future__ import annotations

import logging

import pytest
import torch
from captum.attr import Occlusion
from torch import Tensor, nn

from saliency_core import kernels
from saliency_core.methods.occlusion_incremental import incremental_deltas
from saliency_core.zoo.architecture import DemoCNN

SIZE = 64


def _randomise_batchnorm(model: nn.Module) -> nn.Module:
    """Non-trivial running statistics, so BatchNorm is not the identity it is at initialisation."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.weight.data.copy_(1 + 0.2 * torch.randn(module.num_features, generator=generator))
            module.bias.data.copy_(0.1 * torch.randn(module.num_features, generator=generator))
    return model.eval()


def demo_cnn() -> nn.Module:
    return _randomise_batchnorm(DemoCNN(width=4))


class ToyNet(nn.Module):
    """Max/avg pooling, a dilated branch, concatenation, element-wise ops and torch.mean pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.branch1 = nn.Conv2d(6, 4, 1)
        self.branch2 = nn.Conv2d(6, 4, 3, padding=2, dilation=2)
        self.avg = nn.AvgPool2d(2, stride=2)
        self.act = nn.LeakyReLU(0.1)
        self.head = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.conv(x * 2.0 - 1.0))
        x = self.pool(x)
        x = torch.cat([self.branch1(x), torch.sigmoid(self.branch2(x))], dim=1)
        x = self.act(self.avg(x)) * 1.5
        return self.head(torch.mean(x, dim=(2, 3)))


def naive_deltas(model: nn.Module, images: Tensor, window: tuple[int, int], stride: tuple[int, int],
                 baseline: Tensor, target: Tensor) -> Tensor:
    """One forward pass per window, positions written out independently of the kernels."""
    height, width = images.shape[2:]
    shapes = {0: (1, 1, 1, 1), 1: (1, -1, 1, 1), 3: (1, *baseline.shape), 4: tuple(baseline.shape)}
    base = baseline.reshape(shapes[baseline.dim()]).expand_as(images)
    copies = []
    for top in range(0, -(-(height - window[0]) // stride[0]) * stride[0] + 1, stride[0]):
        for left in range(0, -(-(width - window[1]) // stride[1]) * stride[1] + 1, stride[1]):
            occluded = images.clone()
            box = (slice(None), slice(None), slice(top, top + window[0]), slice(left, left + window[1]))
            occluded[box] = base[box]
            copies.append(occluded)
    with torch.no_grad():  # one pass over all copies: rows are window-major (window · B + image)
        clean = model(images).gather(1, target[:, None])[:, 0]
        scores = model(torch.cat(copies)).gather(1, target.repeat(len(copies))[:, None])[:, 0]
    return clean[:, None] - scores.view(len(copies), -1).T


def baselines(images: Tensor) -> dict[str, Tensor]:
    batch, channels, height, width = images.shape
    return {
        "float": torch.tensor(0.25),
        "per_channel": torch.tensor([0.1, 0.5, 0.9]),
        "per_pixel": torch.rand(channels, height, width),
        "per_image": torch.rand(batch, channels, height, width),
    }


@pytest.mark.parametrize(("window", "stride"), [((16, 16), (8, 8)), ((8, 8), (8, 8)), ((7, 5), (5, 6)),
                                                ((10, 12), (9, 7)), ((20, 20), (11, 13))])
def test_demo_cnn_deltas_equal_naive_loop_for_window_and_stride(window: tuple[int, int],
                                                                  stride: tuple[int, int]) -> None:
    model = demo_cnn()
    images = torch.rand(2, 3, SIZE, SIZE)
    target = torch.tensor([0, 1])
    base = torch.tensor(0.3)
    deltas = incremental_deltas(model, images, window, stride, 0.3, target)
    assert deltas is not None
    torch.testing.assert_close(deltas, naive_deltas(model, images, window, stride, base, target),
                               atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind", ["float", "per_channel", "per_pixel", "per_image"])
def test_every_baseline_form_equals_naive_loop(kind: str) -> None:
    model = demo_cnn()
    images = torch.rand(2, 3, SIZE, SIZE)
    target = torch.tensor([1, 0])
    baseline = baselines(images)[kind]
    given: float | Tensor = float(baseline) if kind == "float" else baseline
    deltas = incremental_deltas(model, images, (12, 12), (10, 10), given, target)
    assert deltas is not None
    torch.testing.assert_close(deltas, naive_deltas(model, images, (12, 12), (10, 10), baseline, target),
                               atol=1e-4, rtol=0)


def test_toy_net_with_concat_and_pooling_equals_naive_loop() -> None:
    model = ToyNet().eval()
    images = torch.rand(2, 3, 40, 36)
    target = torch.tensor([2, 0])
    deltas = incremental_deltas(model, images, (9, 7), (5, 4), 0.0, target)
    assert deltas is not None
    torch.testing.assert_close(deltas, naive_deltas(model, images, (9, 7), (5, 4), torch.tensor(0.0), target),
                               atol=1e-4, rtol=0)


@pytest.mark.parametrize("make", [demo_cnn, lambda: ToyNet().eval()], ids=["demo_cnn", "toy_net"])
def test_accumulated_maps_equal_captum_occlusion(make) -> None:  # type: ignore[no-untyped-def]
    model = make()
    images = torch.rand(1, 3, 48, 48)
    target = torch.tensor([1])
    deltas = incremental_deltas(model, images, (10, 10), (6, 6), 0.5, target)
    assert deltas is not None
    ours = kernels.occlusion_accumulate(deltas, (48, 48), (10, 10), (6, 6))
    captum = Occlusion(model).attribute(images, sliding_window_shapes=(3, 10, 10), strides=(3, 6, 6),
                                        baselines=0.5, target=1, perturbations_per_eval=32)
    torch.testing.assert_close(ours, captum[:, 0], atol=1e-4, rtol=0)


def test_small_chunks_and_progress_give_the_same_deltas() -> None:
    model = demo_cnn()
    images = torch.rand(2, 3, SIZE, SIZE)
    target = torch.tensor([0, 0])
    calls: list[tuple[int, int]] = []
    whole = incremental_deltas(model, images, (16, 16), (8, 8), 0.0, target)
    chunked = incremental_deltas(model, images, (16, 16), (8, 8), 0.0, target, batch_size=10,
                                 progress=lambda done, total: calls.append((done, total)))
    assert whole is not None and chunked is not None
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=0)
    assert calls[-1] == (49, 49) and len(calls) == 10  # 5 windows (10 rows / 2 images) per chunk


class FlattenHead(nn.Module):
    """A Linear on the flattened spatial map: every output depends on every position."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)
        self.fc = nn.Linear(2 * 16 * 16, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.conv(x), 1))


class AttentionLike(nn.Module):
    """Spatial self-attention through view/bmm: a global mixing the engine cannot localise."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        f = self.conv(x)
        flat = f.view(f.shape[0], f.shape[1], -1)
        mixed = torch.bmm(flat, torch.softmax(torch.bmm(flat.transpose(1, 2), flat), dim=-1))
        return self.fc(mixed.mean(-1))


class TrainingBatchNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.bn(self.conv(x)).mean((2, 3)))


@pytest.mark.parametrize("model", [FlattenHead(), AttentionLike(), TrainingBatchNorm().train()],
                         ids=["flatten_linear", "attention_view", "training_batchnorm"])
def test_unsupported_graphs_return_none_with_a_log_line(model: nn.Module, caplog: pytest.LogCaptureFixture) -> None:
    images = torch.rand(1, 3, 16, 16)
    with caplog.at_level(logging.INFO, logger="saliency_core.methods.occlusion_incremental"):
        assert incremental_deltas(model, images, (4, 4), (4, 4), 0.0, torch.tensor([0])) is None
    assert any("full inference" in record.getMessage() for record in caplog.records)
