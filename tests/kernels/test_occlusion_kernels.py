"""Occlusion kernels (dispatching wrappers) against the plain-torch reference, and against Captum."""

from __future__ import annotations

import torch
from captum.attr import Occlusion
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency_core import kernels as K
from saliency_core.kernels import reference as R


@st.composite
def occlusion_cases(draw: st.DrawFn) -> dict:
    batch = draw(st.sampled_from([1, 2, 64]))
    channels = draw(st.sampled_from([1, 3, 4]))
    small = batch == 64  # keep the 64-image cases tiny
    height = draw(st.integers(1, 5 if small else 13))
    width = draw(st.integers(1, 5 if small else 13))
    window = (draw(st.integers(1, height)), draw(st.integers(1, width)))
    stride = (draw(st.integers(1, window[0] + 2)), draw(st.integers(1, window[1] + 2)))
    seed = draw(st.integers(0, 2**16))
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, channels, height, width, generator=gen)
    form = draw(st.sampled_from(["float", "channel", "image", "batch", "scalar-tensor"]))
    baseline = {
        "float": draw(st.floats(-1, 1, width=32)),
        "channel": torch.rand(channels, generator=gen),
        "image": torch.rand(channels, height, width, generator=gen),
        "batch": torch.rand(batch, channels, height, width, generator=gen),
        "scalar-tensor": torch.tensor(0.5),
    }[form]
    return {"images": images, "window": window, "stride": stride, "baseline": baseline}


@settings(max_examples=60, deadline=None)
@given(occlusion_cases(), st.data())
def test_occlusion_batch_equals_reference_for_any_window_range(case: dict, data: st.DataObject) -> None:
    ny, nx = K.window_grid(case["images"].shape[2:], case["window"], case["stride"])
    start = data.draw(st.integers(0, ny * nx - 1))
    count = data.draw(st.integers(0, ny * nx - start))
    got = K.occlusion_batch(start=start, count=count, **case)
    expected = R.occlusion_batch(start=start, count=count, **case)
    assert torch.equal(got, expected)


@settings(max_examples=60, deadline=None)
@given(occlusion_cases())
def test_occlusion_accumulate_equals_reference(case: dict) -> None:
    size = tuple(case["images"].shape[2:])
    ny, nx = K.window_grid(size, case["window"], case["stride"])
    deltas = torch.randn(case["images"].shape[0], ny * nx)
    got = K.occlusion_accumulate(deltas, size, case["window"], case["stride"])
    expected = R.occlusion_accumulate(deltas, size, case["window"], case["stride"])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_chunks_written_into_a_reused_out_concatenate_to_the_full_batch() -> None:
    images = torch.rand(3, 3, 11, 9)
    full = K.occlusion_batch(images, 4, 3)
    out = torch.empty(2 * 3, 3, 11, 9)
    chunks = []
    n = full.shape[0] // 3
    for start in range(0, n, 2):
        count = min(2, n - start)
        chunk = K.occlusion_batch(images, 4, 3, start=start, count=count, out=out[: count * 3])
        assert chunk.data_ptr() == out.data_ptr()
        chunks.append(chunk.clone())
    assert torch.equal(torch.cat(chunks), full)


def test_window_equal_to_the_image_gives_one_fully_occluded_copy() -> None:
    images = torch.rand(2, 3, 6, 7)
    out = K.occlusion_batch(images, (6, 7), (1, 1), baseline=torch.tensor([0.1, 0.2, 0.3]))
    assert out.shape == (2, 3, 6, 7)
    assert torch.equal(out, torch.tensor([0.1, 0.2, 0.3])[None, :, None, None].expand(2, 3, 6, 7))


def test_batch_then_accumulate_reproduces_captum_occlusion() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 10 * 9, 2)
    ).eval()
    images = torch.rand(2, 3, 10, 9)
    baseline, window, stride, target = 0.3, (4, 3), (3, 2), 1
    with torch.no_grad():
        clean = model(images)[:, target]
        occluded = model(K.occlusion_batch(images, window, stride, baseline))[:, target]
    deltas = (clean[None, :] - occluded.reshape(-1, 2)).T.contiguous()  # [B, nWin]
    ours = K.occlusion_accumulate(deltas, (10, 9), window, stride)
    theirs = Occlusion(model).attribute(
        images, sliding_window_shapes=(3, *window), strides=(3, *stride), baselines=baseline, target=target
    )
    for channel in range(3):
        torch.testing.assert_close(ours, theirs[:, channel], rtol=1e-5, atol=1e-5)
