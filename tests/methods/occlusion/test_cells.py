"""Grid (cell) occlusion against independent references: Captum's Occlusion where the grid divides
the image, and a naive loop that blacks out each cell by slicing and runs the model."""

from __future__ import annotations

import pytest
import torch
from captum.attr import Occlusion

from saliency_core import cell_grid, cell_occlusion
from saliency_core.methods.occlusion.cells import hide_cells
from saliency_core.zoo.architecture import DemoCNN


def _demo_cnn() -> torch.nn.Module:
    torch.manual_seed(7)
    model = DemoCNN(width=8)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.3, 0.3)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _naive(model: torch.nn.Module, images: torch.Tensor, n: int, hidden: tuple[int, ...] = ()) -> torch.Tensor:
    """[B, n², K] logits: each cell blacked out by slicing, one forward per copy."""
    grid = cell_grid(n, images.shape[2], images.shape[3])
    start = images.clone()
    for cell in hidden:
        x0, y0, x1, y1 = grid.rect(cell)
        start[:, :, y0:y1, x0:x1] = 0.0
    rows = []
    with torch.no_grad():
        for cell in range(n * n):
            copy = start.clone()
            x0, y0, x1, y1 = grid.rect(cell)
            copy[:, :, y0:y1, x0:x1] = 0.0
            rows.append(model(copy))
    return torch.stack(rows, dim=1)


@pytest.mark.parametrize("n", range(2, 19))
def test_cells_partition_a_128_pixel_image_for_every_grid_size_from_2_to_18(n: int) -> None:
    grid = cell_grid(n, 128)
    cover = torch.zeros(128, 128, dtype=torch.int64)
    widths = set()
    for cell in range(n * n):
        x0, y0, x1, y1 = grid.rect(cell)
        cover[y0:y1, x0:x1] += 1
        widths.add(x1 - x0)
    assert bool((cover == 1).all())  # every pixel in exactly one cell
    assert widths <= {128 // n, -(-128 // n)}  # cells as even as whole pixels allow


def test_non_square_images_are_partitioned_too() -> None:
    grid = cell_grid(7, 90, 100)
    assert int(sum(grid.mask([c]).sum() for c in range(49))) == 90 * 100
    assert grid.rect(48)[2:] == (100, 90)


def test_equals_captum_occlusion_when_the_grid_divides_the_image() -> None:
    model, images = _demo_cnn(), torch.rand(2, 3, 64, 64)
    result = cell_occlusion(model, images, 4, softmax=False)  # 16-pixel cells
    with torch.no_grad():
        logits = model(images)
    for cls in (0, 1):
        captum = Occlusion(model).attribute(images, sliding_window_shapes=(3, 16, 16), strides=(3, 16, 16),
                                            baselines=0.0, target=cls)[:, 0]  # Δ of each pixel's window
        cell_delta = captum[:, ::16, ::16].reshape(2, 16)
        expected = logits[:, cls, None] - cell_delta
        torch.testing.assert_close(result.cells[:, :, cls], expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("n", "hidden"), [(18, ()), (13, (0, 5, 168)), (5, (12,))])
def test_uneven_grids_and_hidden_cells_match_naive_full_inference(n: int, hidden: tuple[int, ...]) -> None:
    model, images = _demo_cnn(), torch.rand(2, 3, 128, 128)
    result = cell_occlusion(model, images, n, hidden, softmax=False)
    torch.testing.assert_close(result.cells, _naive(model, images, n, hidden), atol=1e-4, rtol=1e-4)
    start = images.clone()
    for cell in hidden:
        x0, y0, x1, y1 = result.grid.rect(cell)
        start[:, :, y0:y1, x0:x1] = 0.0
    with torch.no_grad():
        torch.testing.assert_close(result.base, model(start), atol=1e-5, rtol=1e-5)


def test_probabilities_are_the_softmax_of_the_naive_logits(tiny_cnn: torch.nn.Module) -> None:
    images = torch.rand(1, 3, 32, 32)
    result = cell_occlusion(tiny_cnn, images, 6)
    torch.testing.assert_close(result.cells, torch.softmax(_naive(tiny_cnn, images, 6), -1), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(result.cells.sum(-1), torch.ones(1, 36))
    assert result.cell_map(1).shape == (1, 6, 6)


def test_a_model_the_engine_cannot_trace_falls_back_to_full_inference(tiny_cnn: torch.nn.Module) -> None:
    images = torch.rand(1, 3, 32, 32)
    scripted = torch.jit.trace(tiny_cnn, images)
    result = cell_occlusion(scripted, images, 5, (3,), softmax=False)
    torch.testing.assert_close(result.cells, _naive(tiny_cnn, images, 5, (3,)), atol=1e-5, rtol=1e-4)


def test_forced_full_inference_agrees_with_the_engine(tiny_cnn: torch.nn.Module) -> None:
    images = torch.rand(2, 3, 40, 40)
    a = cell_occlusion(tiny_cnn, images, 7, (1, 2))
    b = cell_occlusion(tiny_cnn, images, 7, (1, 2), exact_engine=False)
    torch.testing.assert_close(a.cells, b.cells, atol=1e-5, rtol=1e-4)


def test_hide_cells_blacks_out_exactly_the_cells_pixels() -> None:
    images = torch.rand(1, 3, 30, 30) * 0.9 + 0.1  # no pixel is already black
    grid = cell_grid(3, 30)
    out = hide_cells(images, grid, [4])
    assert bool((out[0, :, 10:20, 10:20] == 0).all())
    changed = (out != images).any(1)[0]
    assert int(changed.sum()) == 100


@pytest.mark.parametrize("n", [0, 129, 2.5, True, -3, None, "4", float("nan"), float("inf")])
def test_bad_grid_sizes_are_rejected_with_a_message(n: object) -> None:
    with pytest.raises(ValueError, match="grid size"):
        cell_grid(n, 128)  # type: ignore[arg-type]


def test_a_cell_outside_the_grid_is_rejected(tiny_cnn: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="outside the 4x4 grid"):
        cell_occlusion(tiny_cnn, torch.rand(1, 3, 32, 32), 4, hidden=(16,))


@pytest.mark.parametrize(("kwargs", "word"), [({"hidden": 3}, "collection of cell indices"),
                                              ({"hidden": (2.7,)}, "cells are integers"),
                                              ({"hidden": ("5",)}, "cells are integers"),
                                              ({"baseline": torch.zeros(3)}, "baseline must be a number"),
                                              ({"baseline": float("nan")}, "baseline must be finite"),
                                              ({"baseline": float("inf")}, "baseline must be finite")])
def test_bad_hidden_cells_and_baselines_are_named(tiny_cnn: torch.nn.Module, kwargs: dict, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        cell_occlusion(tiny_cnn, torch.rand(1, 3, 32, 32), 4, **kwargs)


def test_full_inference_fallback_keeps_passes_small_for_big_batches(tiny_cnn: torch.nn.Module,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from saliency_core.methods.occlusion import batching, cells as module

    # The fallback's passes fit the one occlusion memory budget: here, 64 copies of a 3×32×32 image.
    monkeypatch.setattr(batching, "MEMORY_BUDGET_BYTES", 64 * 3 * 32 * 32 * 4)
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.shape[0])
            return tiny_cnn(x)

    images = torch.rand(16, 3, 32, 32)
    result = module.cell_occlusion(Spy(), images, 3, exact_engine=False, softmax=False)
    assert max(seen) <= 64  # copies per pass, whatever the batch
    torch.testing.assert_close(result.cells, _naive(tiny_cnn, images, 3), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("shape", [(1, 2, 64, 64), (1, 3, 1, 1)])
def test_images_the_model_rejects_are_a_value_error_naming_their_shape(shape: tuple[int, ...]) -> None:
    model = DemoCNN().eval()  # 3 channels, and its stem pools: 2 channels or 1×1 pixels cannot pass
    with pytest.raises(ValueError, match=r"model failed on images of shape \(" + ", ".join(map(str, shape))):
        cell_occlusion(model, torch.rand(*shape), 1)
