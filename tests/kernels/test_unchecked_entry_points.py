"""The unchecked twins (for callers that validated once) compute what the public kernels compute,
the CPU bindings keep their one calling convention, and kernels/ mirrors csrc/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from saliency_core import kernels as K
from saliency_core.kernels import native

needs_extension = pytest.mark.skipif(native.extension() is None, reason="the compiled extension is not loaded")


@pytest.mark.parametrize("form", ["float", "channel", "image", "batch"])
def test_occlusion_batch_unchecked_equals_the_public_kernel(form: str) -> None:
    g = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, 11, 9, generator=g)
    baseline = {"float": 0.3, "channel": torch.rand(3, generator=g), "image": torch.rand(3, 11, 9, generator=g),
                "batch": torch.rand(2, 3, 11, 9, generator=g)}[form]
    base = K.baseline4(baseline, images)
    expected = K.occlusion_batch(images, (4, 3), (3, 2), baseline, start=5, count=6)
    assert torch.equal(K.occlusion_batch_unchecked(images, (4, 3), (3, 2), base, 5, 6), expected)
    out = torch.empty_like(expected)
    assert K.occlusion_batch_unchecked(images, (4, 3), (3, 2), base, 5, 6, out) is out
    assert torch.equal(out, expected)


def test_occlusion_accumulate_unchecked_equals_the_public_kernel() -> None:
    ny, nx = K.window_grid((11, 9), (4, 3), (3, 2))
    deltas = torch.randn(2, ny * nx, generator=torch.Generator().manual_seed(2))
    assert torch.equal(K.occlusion_accumulate_unchecked(deltas, (11, 9), (4, 3), (3, 2)),
                       K.occlusion_accumulate(deltas, (11, 9), (4, 3), (3, 2)))


@pytest.mark.parametrize("with_patch", [True, False])
def test_gather_patches_unchecked_equals_the_public_kernel(with_patch: bool) -> None:
    g = torch.Generator().manual_seed(3)
    table = torch.randn(2 * 9 * 8, 4, generator=g)
    image, y0, x0 = torch.tensor([0, 1, 1]), torch.tensor([0, 4, 2]), torch.tensor([3, 0, 5])
    patch = torch.randn(3, 4, 2, 2, generator=g).contiguous(memory_format=torch.channels_last) if with_patch else None
    offset = (torch.tensor([1, -1, 4]), torch.tensor([0, 2, 3])) if with_patch else None
    expected = K.gather_patches(table, (9, 8), image, y0, x0, (5, 3), patch, offset)
    got = K.gather_patches_unchecked(table, (9, 8), image, y0, x0, (5, 3), patch, offset)
    assert got.shape == (3, 4, 5, 3) and got.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(got, expected)


@needs_extension
def test_the_cpu_kernels_refuse_out_of_bounds_shapes_even_unchecked() -> None:
    """Unchecked skips the Python checks, never the C++ kernels' own bounds checks."""
    images, base = torch.rand(1, 2, 6, 6), torch.zeros(1, 2, 1, 1)
    with pytest.raises(ValueError, match="out has the wrong shape"):
        K.occlusion_batch_unchecked(images, (2, 2), (2, 2), base, 0, 2, torch.empty(1, 2, 6, 6))
    with pytest.raises(ValueError, match="window and stride must be positive"):
        K.occlusion_batch_unchecked(images, (2, 2), (0, 2), base, 0, 1)
    with pytest.raises(ValueError, match="larger than the image"):
        K.occlusion_accumulate_unchecked(torch.rand(1, 1), (6, 6), (7, 7), (1, 1))
    table = torch.randn(6 * 6, 2)
    with pytest.raises(ValueError, match="outside the padded map"):
        K.gather_patches_unchecked(table, (6, 6), torch.tensor([0]), torch.tensor([3]), torch.tensor([0]), (4, 4))


@needs_extension
def test_cpu_bindings_take_arrays_and_never_fill_a_silent_copy() -> None:
    """One convention: numpy arrays (sizes from their shapes), (y, x) tuples, None for an absent
    optional array; an output of the wrong dtype or layout is a TypeError, not a copy left unseen."""
    ext = native.extension()
    assert ext is not None
    deltas = np.random.default_rng(0).random((1, 9), dtype=np.float32)
    out = np.empty((1, 3, 3), dtype=np.float32)
    ext.occlusion_accumulate(deltas, out, (1, 1), (1, 1))
    np.testing.assert_array_equal(out.reshape(1, 9), deltas)
    with pytest.raises(TypeError):
        ext.occlusion_accumulate(deltas, np.empty((1, 3, 3), dtype=np.float64), (1, 1), (1, 1))
    with pytest.raises(TypeError):
        ext.occlusion_accumulate(deltas, np.empty((1, 3, 3), dtype=np.float32, order="F"), (1, 1), (1, 1))
    maps = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    threshold, share = np.empty(2, np.float32), np.empty(2, np.float32)
    count = np.empty(2, np.int64)
    ext.top_percent(maps, 1, None, None, threshold, share, count, None)
    np.testing.assert_array_equal(threshold, [3, 7])
    np.testing.assert_array_equal(count, [1, 1])


def test_kernels_mirror_csrc() -> None:
    """One Python module per kernel source (module.cpp is the binding's entry point, not a kernel)."""
    csrc = Path(__file__).resolve().parents[2] / "csrc"
    package = Path(K.__file__).parent
    kernels = {p.stem for p in csrc.glob("*.cpp")} - {"module"}
    assert kernels == {"occlusion", "threshold", "noise", "gather"}
    assert all((package / f"{name}.py").is_file() for name in kernels)
    assert {p.stem for p in csrc.glob("*.cu")} - {"cuda_runtime_check"} == kernels
