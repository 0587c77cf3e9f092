"""Fixtures for the method tests (the shared `tiny_cnn` is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from method_models import Linear, SmallCNN


@pytest.fixture
def linear_model() -> Linear:
    torch.manual_seed(7)
    return Linear().eval()


@pytest.fixture
def small_cnn() -> SmallCNN:
    torch.manual_seed(11)
    return SmallCNN().eval()


@pytest.fixture
def images() -> torch.Tensor:
    """Three RGB images 3x16x16 in [0, 1]."""
    return torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(3))


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    """These models are tiny: one intra-op thread avoids thread contention on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
