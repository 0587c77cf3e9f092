"""K-SSD, CCM and FAM on constructed maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from saliency_core.metrics import ccm, fam, kssd


def test_a_map_equal_to_the_signal_mask_has_kssd_one() -> None:
    mask = torch.zeros(2, 16, 16)
    mask[:, 4:10, 3:12] = 1
    np.testing.assert_allclose(kssd(5 * mask, mask), 1.0, atol=1e-6)  # scale does not matter
    boxes = torch.tensor([[3, 4, 12, 10]] * 2)
    np.testing.assert_allclose(kssd(mask, boxes), 1.0, atol=1e-6)


def test_a_map_far_from_the_signal_has_low_kssd() -> None:
    mask = torch.zeros(1, 16, 16)
    mask[:, :4, :4] = 1
    elsewhere = torch.zeros(1, 16, 16)
    elsewhere[:, 10:, 10:] = 1
    assert kssd(elsewhere, mask)[0] < 0.5


def test_identical_normal_and_spurious_maps_give_ccm_and_fam_one() -> None:
    maps = torch.rand(3, 12, 12)
    np.testing.assert_allclose(fam(maps, maps), 1.0, atol=1e-6)
    np.testing.assert_allclose(ccm(maps, maps), 1.0, atol=1e-6)


def test_mismatched_batches_raise_value_error() -> None:
    with pytest.raises(ValueError, match="batch sizes differ"):
        fam(torch.rand(2, 8, 8), torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="batch sizes differ"):
        kssd(torch.rand(2, 8, 8), torch.ones(3, 8, 8))
