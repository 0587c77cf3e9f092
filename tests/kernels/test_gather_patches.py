"""gather_patches (crop windows of a padded channels-last map, paste patches over them) against a
naive loop over rows that slices the 4-D map directly."""

from __future__ import annotations

import pytest
import torch

from saliency_core import kernels as K
from saliency_core.kernels import reference as R


def _case(seed: int, channels_last_patch: bool, device: str = "cpu") -> dict:
    g = torch.Generator().manual_seed(seed)
    b, c, hp, wp, h, w, rows = 3, 5, 13, 11, 6, 4, 17
    padded = torch.randn(b, c, hp, wp, generator=g)
    image = torch.randint(0, b, (rows,), generator=g)
    y0 = torch.randint(0, hp - h + 1, (rows,), generator=g)
    x0 = torch.randint(0, wp - w + 1, (rows,), generator=g)
    patch = torch.randn(rows, c, 3, 5, generator=g)  # wider than the crop: always clipped on x
    if channels_last_patch:
        patch = patch.contiguous(memory_format=torch.channels_last)
    dy = torch.randint(-3, h + 1, (rows,), generator=g)
    dx = torch.randint(-5, w + 1, (rows,), generator=g)
    table = padded.permute(0, 2, 3, 1).reshape(-1, c).contiguous()
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in dict(
        padded=padded, table=table, image=image, y0=y0, x0=x0, patch=patch, dy=dy, dx=dx, size=(h, w)).items()}


def _naive(case: dict, with_patch: bool) -> torch.Tensor:
    h, w = case["size"]
    out = []
    for r in range(case["image"].numel()):
        y, x = int(case["y0"][r]), int(case["x0"][r])
        crop = case["padded"][int(case["image"][r]), :, y:y + h, x:x + w].clone()
        if with_patch:
            p = case["patch"][r]
            for i in range(p.shape[1]):
                for j in range(p.shape[2]):
                    ti, tj = int(case["dy"][r]) + i, int(case["dx"][r]) + j
                    if 0 <= ti < h and 0 <= tj < w:
                        crop[:, ti, tj] = p[:, i, j]
        out.append(crop)
    return torch.stack(out)


def _gather(case: dict, with_patch: bool, fn=K.gather_patches) -> torch.Tensor:  # type: ignore[no-untyped-def]
    padded = case["padded"]
    return fn(case["table"], padded.shape[2:], case["image"], case["y0"], case["x0"], case["size"],
              case["patch"] if with_patch else None, (case["dy"], case["dx"]) if with_patch else None)


@pytest.mark.parametrize("channels_last_patch", [True, False])
@pytest.mark.parametrize("with_patch", [True, False])
def test_crops_with_clipped_patches_equal_a_naive_slicing_loop(channels_last_patch: bool, with_patch: bool) -> None:
    case = _case(3, channels_last_patch)
    got = _gather(case, with_patch)
    assert got.shape == (17, 5, 6, 4)
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(got, _naive(case, with_patch))


def test_reference_equals_the_naive_loop_too() -> None:
    case = _case(4, True)
    got = _gather(case, True, fn=R.gather_patches).permute(0, 3, 1, 2)
    assert torch.equal(got, _naive(case, True))


def test_a_crop_outside_the_padded_map_is_a_value_error() -> None:
    case = _case(5, True)
    case["y0"] = case["y0"].clone()
    case["y0"][4] = 12  # 12 + 6 rows > 13
    with pytest.raises(ValueError, match="outside the padded map"):
        _gather(case, False)


def test_bad_arguments_are_named() -> None:
    case = _case(6, True)
    with pytest.raises(ValueError, match="table must be"):
        K.gather_patches(case["table"].double(), (13, 11), case["image"], case["y0"], case["x0"], (6, 4))
    with pytest.raises(ValueError, match="y0 must be an int64 vector"):
        K.gather_patches(case["table"], (13, 11), case["image"], case["y0"].int(), case["x0"], (6, 4))
    with pytest.raises(ValueError, match="needs its offset"):
        K.gather_patches(case["table"], (13, 11), case["image"], case["y0"], case["x0"], (6, 4), case["patch"])
    with pytest.raises(ValueError, match="two int64 vectors"):
        K.gather_patches(case["table"], (13, 11), case["image"], case["y0"], case["x0"], (6, 4), case["patch"],
                         (case["dy"], case["dx"], case["dx"]))


@pytest.mark.cuda
@pytest.mark.skipif(not K.cuda_available(), reason="no CUDA GPU visible or CUDA kernels not compiled")
@pytest.mark.parametrize("channels_last_patch", [True, False])
def test_cuda_gather_equals_the_naive_loop(channels_last_patch: bool) -> None:
    case = _case(7, channels_last_patch, "cuda")
    got = _gather(case, True)
    cpu = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in case.items()}
    assert torch.equal(got.cpu(), _naive(cpu, True))


def test_without_the_extension_the_fallback_gives_the_same_crops(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import warnings

    from saliency_core.kernels import native

    monkeypatch.setitem(sys.modules, "saliency_core._ext", None)
    monkeypatch.delenv("SALIENCY_REQUIRE_EXT", raising=False)
    native.reset()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert K.backend() == "reference"
            case = _case(8, True)
            assert torch.equal(_gather(case, True), _naive(case, True))
            case["x0"] = case["x0"].clone()
            case["x0"][0] = -1
            with pytest.raises(ValueError, match="outside the padded map"):
                _gather(case, True)
    finally:
        monkeypatch.undo()
        native.reset()
