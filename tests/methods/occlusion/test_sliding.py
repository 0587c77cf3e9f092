"""saliency_core.occlusion equals Captum's Occlusion; bad input is a ValueError naming it."""

from __future__ import annotations

import math

import pytest
import torch
from captum.attr import Occlusion

import saliency_core as sc


def captum_occlusion(model, images, window, stride, baseline, target):
    c = images.shape[1]
    attr = Occlusion(model).attribute(
        images, sliding_window_shapes=(c, *window), strides=(c, *stride), baselines=baseline,
        target=target, perturbations_per_eval=8,
    )
    return attr[:, 0]


@pytest.mark.parametrize(
    ("size", "window", "stride"),
    [((32, 32), (16, 16), (8, 8)), ((29, 35), (5, 7), (3, 4)), ((24, 24), (24, 24), (1, 1)), ((20, 26), (4, 4), (4, 4))],
)
@pytest.mark.parametrize("mode", ["naive", "exact"])
def test_occlusion_matches_captum(tiny_cnn, size, window, stride, mode):
    images = torch.rand(3, 3, *size)
    target = tiny_cnn(images).argmax(1)
    ours = sc.occlusion(tiny_cnn, images, window=window, stride=stride, batch_size=5, mode=mode)
    assert ours.shape == (3, *size)
    torch.testing.assert_close(ours, captum_occlusion(tiny_cnn, images, window, stride, 0.0, target),
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("size", "window", "stride"), [((32, 30), (4, 4), (12, 12)), ((32, 30), (1, 30), (16, 1))])
@pytest.mark.parametrize("mode", ["naive", "exact"])
def test_strides_longer_than_the_window_leave_uncovered_pixels_at_zero(tiny_cnn, size, window, stride, mode):
    # Captum refuses stride > window; the reference is a plain loop over Captum's window positions
    # (0, s, …, ceil((H − h) / s)·s; one past the border occludes nothing), each Δ spread over its window.
    images = torch.rand(2, 3, *size)
    target = tiny_cnn(images).argmax(1)
    with torch.no_grad():
        clean = tiny_cnn(images).gather(1, target[:, None])[:, 0]
        total, count = torch.zeros(2, *size), torch.zeros(size)
        for y in range(0, stride[0] * math.ceil((size[0] - window[0]) / stride[0]) + 1, stride[0]):
            for x in range(0, stride[1] * math.ceil((size[1] - window[1]) / stride[1]) + 1, stride[1]):
                occluded = images.clone()
                occluded[:, :, y : y + window[0], x : x + window[1]] = 0.0
                delta = clean - tiny_cnn(occluded).gather(1, target[:, None])[:, 0]
                total[:, y : y + window[0], x : x + window[1]] += delta[:, None, None]
                count[y : y + window[0], x : x + window[1]] += 1
    expected = torch.where(count > 0, total / count.clamp(min=1), torch.zeros(()))
    ours = sc.occlusion(tiny_cnn, images, window=window, stride=stride, mode=mode)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)
    assert (count == 0).any() or window[1] == size[1]  # the first case really has gaps


@pytest.mark.parametrize("form", ["scalar", "per_channel", "image", "batch"])
def test_occlusion_baselines_match_captum(tiny_cnn, form):
    images = torch.rand(2, 3, 24, 24)
    baseline = {
        "scalar": 0.5,
        "per_channel": torch.tensor([0.2, 0.5, 0.8]),
        "image": torch.rand(3, 24, 24),
        "batch": torch.rand(2, 3, 24, 24),
    }[form]
    captum_baseline = baseline
    if form == "per_channel":
        captum_baseline = baseline.view(1, 3, 1, 1).expand(2, 3, 24, 24)
    elif form == "image":
        captum_baseline = baseline.expand(2, 3, 24, 24)
    ours = sc.occlusion(tiny_cnn, images, window=8, stride=4, baseline=baseline, target=1)
    ref = captum_occlusion(tiny_cnn, images, (8, 8), (4, 4), captum_baseline, 1)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_occlusion_of_a_linear_model_is_weight_times_input_over_window():
    # f(x) = Σ w·x: occluding a window with baseline 0 removes exactly Σ_window w·x, so with
    # non-overlapping windows (stride = window) each pixel's map is its window's Σ (w·x).
    weight = torch.rand(1, 12, 12)

    def model(x):
        return torch.stack([(x[:, 0] * weight).sum(dim=(1, 2)), torch.zeros(x.shape[0])], dim=1)

    images = torch.rand(1, 1, 12, 12)
    maps = sc.occlusion(model, images, window=4, stride=4, target=0)
    contrib = (images[0, 0] * weight[0]).view(3, 4, 3, 4).sum(dim=(1, 3))
    expected = contrib.repeat_interleave(4, 0).repeat_interleave(4, 1)
    torch.testing.assert_close(maps[0], expected, atol=1e-5, rtol=1e-5)


def test_progress_reports_every_chunk_up_to_the_total(tiny_cnn):
    calls = []
    sc.occlusion(tiny_cnn, torch.rand(1, 3, 16, 16), window=4, stride=4, batch_size=3,
                 progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (16, 16)
    done = [0] + [d for d, _ in calls]
    steps = [b - a for a, b in zip(done, done[1:])]
    assert all(1 <= s <= 3 for s in steps)  # never more than batch_size windows per pass
    assert len(calls) >= 6  # at least ceil(16 / 3) passes


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"window": 40}, "window"),
        ({"stride": 0}, "stride"),
        ({"stride": -2}, "stride"),
        ({"target": 5}, "target"),
        ({"mode": "turbo"}, "mode"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 1.5}, "batch_size"),
        ({"batch_size": "a"}, "batch_size"),
        ({"progress": 5}, "progress"),
        ({"baseline": torch.rand(2, 2)}, "baseline"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(tiny_cnn, kwargs, word):
    with pytest.raises(ValueError, match=word):
        sc.occlusion(tiny_cnn, torch.rand(1, 3, 32, 32), **kwargs)


@pytest.mark.parametrize(
    ("images", "word"),
    [(torch.rand(3, 32, 32), "4-D"), (torch.rand(1, 3, 8, 8).double(), "float32"), (torch.rand(1, 4, 16, 16), "RGBA")],
)
def test_bad_images_raise_value_error(tiny_cnn, images, word):
    with pytest.raises(ValueError, match=word):
        sc.occlusion(tiny_cnn, images, window=4, stride=4)


def test_large_requests_are_chunked_under_the_memory_budget(tiny_cnn, monkeypatch):
    from saliency_core.methods.occlusion import batching as module

    monkeypatch.setattr(module, "MEMORY_BUDGET_BYTES", 3 * 32 * 32 * 4 * 10)  # 10 copies
    seen = []
    original = module.forward

    def spy(model, x):
        seen.append(x.shape[0])
        return original(model, x)

    monkeypatch.setattr(module, "forward", spy)
    images = torch.rand(1, 3, 32, 32)
    maps = sc.occlusion(tiny_cnn, images, window=4, stride=2, mode="naive")
    assert max(seen[1:]) <= 10
    ref = captum_occlusion(tiny_cnn, images, (4, 4), (2, 2), 0.0, tiny_cnn(images).argmax(1))
    torch.testing.assert_close(maps, ref, atol=1e-5, rtol=1e-5)


def test_full_inference_passes_hold_a_bounded_number_of_copies():
    # the memory budget counts the occluded copies; the activations they make need a row cap too
    from saliency_core.methods.occlusion.batching import FULL_INFERENCE_ROWS

    seen = []

    class Recording(torch.nn.Module):  # global max pool: no incremental plan, full inference
        def forward(self, x):
            seen.append(x.shape[0])
            return torch.stack([x.amax((1, 2, 3)), -x.amax((1, 2, 3))], 1)

    images = torch.rand(2, 3, 32, 32)
    sc.occlusion(Recording(), images, window=4, stride=2, mode="naive")
    assert max(seen[1:]) <= FULL_INFERENCE_ROWS and sum(seen[1:]) == 2 * 15 * 15
