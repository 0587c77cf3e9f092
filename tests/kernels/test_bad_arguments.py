"""Bad input to every kernel is a ValueError that names the argument or the problem."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from saliency_core import kernels as K

IMAGES = torch.rand(2, 3, 8, 8)
MAPS = torch.rand(2, 8, 8)
PERCENT = r"percent must be a finite number in \(0, 100\]"

CASES: dict[str, tuple[Callable[[], object], str]] = {
    "window larger than image": (lambda: K.occlusion_batch(IMAGES, 9, 1), "larger than the image"),
    "window larger in x": (lambda: K.occlusion_batch(IMAGES, (2, 9), 1), "larger than the image"),
    "zero stride": (lambda: K.occlusion_batch(IMAGES, 2, 0), "stride must be positive"),
    "negative stride in pair": (lambda: K.occlusion_batch(IMAGES, 2, (1, -1)), "stride must be positive"),
    "window not int": (lambda: K.occlusion_batch(IMAGES, 2.5, 1), "window must be an int"),
    "window triple": (lambda: K.occlusion_batch(IMAGES, (1, 2, 3), 1), "window must be an int"),
    "images 3-D": (lambda: K.occlusion_batch(IMAGES[0], 2, 1), "images must have 4 dimensions"),
    "images float64": (lambda: K.occlusion_batch(IMAGES.double(), 2, 1), "images must be float32"),
    "images not a tensor": (lambda: K.occlusion_batch(IMAGES.numpy(), 2, 1), "images must be a torch.Tensor"),
    "baseline shape": (lambda: K.occlusion_batch(IMAGES, 2, 1, torch.rand(2)), "baseline must be"),
    "baseline int tensor": (lambda: K.occlusion_batch(IMAGES, 2, 1, torch.zeros(3, dtype=torch.long)), "baseline"),
    "baseline NaN": (lambda: K.occlusion_batch(IMAGES, 2, 1, math.nan), "baseline must be a finite number"),
    "baseline -Inf": (lambda: K.occlusion_batch(IMAGES, 2, 1, -math.inf), "baseline must be a finite number"),
    "baseline tensor NaN": (
        lambda: K.occlusion_batch(IMAGES, 2, 1, torch.tensor([0.0, math.nan, 0.0])), "baseline must be finite"
    ),
    "baseline float64 overflows float32": (
        lambda: K.occlusion_batch(IMAGES, 2, 1, torch.tensor(1e300, dtype=torch.float64)), "baseline must be finite"
    ),
    "start too large": (lambda: K.occlusion_batch(IMAGES, 2, 2, start=17), "start must be in"),
    "count too large": (lambda: K.occlusion_batch(IMAGES, 2, 2, start=10, count=7), "count must be in"),
    "out wrong shape": (lambda: K.occlusion_batch(IMAGES, 2, 2, count=1, out=torch.empty(1, 3, 8, 8)), "out must be"),
    "out not contiguous": (
        lambda: K.occlusion_batch(IMAGES, 2, 2, count=1, out=torch.empty(2, 8, 3, 8).transpose(1, 2)),
        "out must be contiguous",
    ),
    "deltas wrong windows": (lambda: K.occlusion_accumulate(torch.rand(2, 5), (8, 8), 2, 2), "deltas must be"),
    "deltas 1-D": (lambda: K.occlusion_accumulate(torch.rand(16), (8, 8), 2, 2), "deltas must have 2"),
    "accumulate window too big": (lambda: K.occlusion_accumulate(torch.rand(2, 1), (4, 4), 5, 1), "larger than"),
    "grid size zero": (lambda: K.window_grid((0, 4), 1, 1), "size must be positive"),
    # The one wording of checks.check_finite, shared with the metrics' percent.
    "percent zero": (lambda: K.top_percent(MAPS, 0.0), PERCENT),
    "percent above 100": (lambda: K.top_percent(MAPS, 100.5), PERCENT),
    "percent NaN": (lambda: K.top_percent(MAPS, math.nan), PERCENT),
    "percent string": (lambda: K.top_percent(MAPS, "1"), PERCENT),
    "maps 4-D": (lambda: K.top_percent(MAPS[None], 1.0), "maps must have 3"),
    "maps float16": (lambda: K.top_percent(MAPS.half(), 1.0), "maps must be float32"),
    "boxes not [B,4]": (lambda: K.top_percent(MAPS, 1.0, torch.zeros(2, 3)), "region boxes must be"),
    "boxes wrong batch": (lambda: K.top_percent(MAPS, 1.0, torch.zeros(3, 4)), "region boxes must be"),
    "boxes NaN": (lambda: K.top_percent(MAPS, 1.0, torch.full((2, 4), math.nan)), "finite"),
    "region mask shape": (lambda: K.top_percent(MAPS, 1.0, torch.zeros(2, 8, 7, dtype=torch.bool)), "region masks"),
    "region mask NaN": (
        lambda: K.top_percent(MAPS, 1.0, torch.full((2, 8, 8), math.nan)), "region masks must be finite"
    ),
    "region 1-D": (lambda: K.top_percent(MAPS, 1.0, torch.zeros(8)), "region must be"),
    "noise masks shape": (lambda: K.masked_noise(IMAGES, torch.ones(2, 3, 8, 8), 0.1, 0), "masks must be"),
    "noise masks range": (lambda: K.masked_noise(IMAGES, torch.full((2, 8, 8), 1.5), 0.1, 0), "masks must hold"),
    "noise sigma negative": (lambda: K.masked_noise(IMAGES, torch.ones(2, 8, 8), -0.1, 0), "sigma must be"),
    "noise sigma inf": (lambda: K.masked_noise(IMAGES, torch.ones(2, 8, 8), math.inf, 0), "sigma must be"),
    "noise seed float": (lambda: K.masked_noise(IMAGES, torch.ones(2, 8, 8), 0.1, 1.5), "seed must be an int"),
    "chunk budget": (lambda: K.max_windows_per_chunk((1, 3, 8, 8), 0), "budget_bytes must be positive"),
    "chunk shape": (lambda: K.max_windows_per_chunk((3, 8, 8), 10), "images_shape"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_argument_raises_value_error_naming_it(case: str) -> None:
    call, message = CASES[case]
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("baseline", [math.nan, math.inf, -math.inf])
def test_occlusion_rejects_a_non_finite_baseline(baseline: float) -> None:
    """A NaN/Inf baseline would turn every occluded score, and so the whole map, into NaN."""
    import saliency_core as sc

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    images = torch.rand(1, 3, 16, 16)
    for mode in ("exact", "naive"):
        with pytest.raises(ValueError, match="baseline must be"):
            sc.occlusion(model, images, 4, 4, baseline=baseline, mode=mode)
    with pytest.raises(ValueError, match="baseline must be"):
        sc.cell_occlusion(model, images, 4, baseline=baseline)
