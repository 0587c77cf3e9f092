"""Backend selection: a missing extension falls back once, loudly, unless SALIENCY_REQUIRE_EXT=1."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator

import pytest
import torch

from saliency_core import kernels as K
from saliency_core.kernels import native
from saliency_core.kernels import reference as R


@pytest.fixture
def missing_extension(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make `import saliency_core._ext` fail (a None entry in sys.modules raises ImportError)."""
    monkeypatch.setitem(sys.modules, "saliency_core._ext", None)
    native.reset()
    yield
    monkeypatch.undo()
    native.reset()


def test_missing_extension_falls_back_to_reference_with_one_warning(
    missing_extension: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SALIENCY_REQUIRE_EXT", raising=False)
    maps = torch.randn(2, 9, 9)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert K.backend() == "reference"
        assert not K.cuda_compiled() and not K.cuda_available()
        first = K.top_percent(maps, 5.0, torch.tensor([[0, 0, 4, 4]] * 2))
        second = K.occlusion_batch(torch.rand(1, 1, 5, 5), 2, 2)
    ours = [w for w in caught if "saliency_core._ext" in str(w.message)]
    assert len(ours) == 1 and issubclass(ours[0].category, RuntimeWarning)
    expected = R.top_percent(maps, 5.0, torch.tensor([[0, 0, 4, 4]] * 2))
    assert torch.equal(first.threshold, expected.threshold) and torch.equal(first.share, expected.share)
    assert second.shape == (9, 1, 5, 5)


def test_missing_extension_is_an_import_error_under_require_ext(
    missing_extension: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALIENCY_REQUIRE_EXT", "1")
    with pytest.raises(ImportError, match="SALIENCY_REQUIRE_EXT=1"):
        K.backend()


def test_backend_names_the_kernels_in_use() -> None:
    import saliency_core._ext as ext

    native.reset()
    assert K.cuda_compiled() == bool(ext.WITH_CUDA)
    assert K.backend() == ("extension+cuda" if ext.WITH_CUDA and ext.cuda_available() else "extension")


def test_extension_reports_cuda_kernels_when_ci_expects_a_cuda_build() -> None:
    """CI sets SALIENCY_EXPECT_CUDA_BUILD=1 where nvcc exists, so the .cu sources never rot unbuilt."""
    import saliency_core._ext as ext

    if os.environ.get("SALIENCY_EXPECT_CUDA_BUILD") == "1":
        assert ext.WITH_CUDA is True, "the extension was built without its CUDA kernels"
    assert K.cuda_compiled() == bool(ext.WITH_CUDA)


def test_max_windows_per_chunk_fits_the_budget() -> None:
    per_window = 4 * 3 * 32 * 32 * 4
    assert K.max_windows_per_chunk((4, 3, 32, 32), 10 * per_window + 5) == 10
    assert K.max_windows_per_chunk((4, 3, 32, 32), 1) == 1  # always makes progress
