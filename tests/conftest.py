"""Shared fixtures: seeded RNG, the demo data directory, small CNNs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# No background warm-up in the app under test (AppTest here, and the servers the browser tests
# start, which inherit this environment): it would compete with the tests for the CPU and fill
# caches that tests expect empty. tests/dashboard/common/test_warmup.py runs it on purpose.
os.environ.setdefault("SALIENCY_WARMUP", "0")

@pytest.fixture(autouse=True)
def _seed_and_one_thread() -> None:
    torch.manual_seed(0)
    # Tests use tiny models: thread start-up and contention cost more than they gain (measured
    # 163 s → 23 s for tests/methods on a busy 2-core machine).
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real photos (SALIENCY_DATA); tests that need them skip with the reason otherwise."""
    value = os.environ.get("SALIENCY_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("SALIENCY_DATA is not set to the cats-vs-dogs folder (.ci/run sets it)")
    return Path(value)


class TinyCNN(torch.nn.Module):
    """A small seeded CNN with conv, BN, in-place ReLU, pooling, a residual add and a linear head."""

    def __init__(self, channels: int = 3, classes: int = 2) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, 8, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.relu = torch.nn.ReLU(inplace=True)
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.pool = torch.nn.MaxPool2d(2)
        self.conv3 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.head = torch.nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(x + self.conv2(x))
        x = self.relu(self.conv3(self.pool(x)))
        return self.head(x.mean(dim=(2, 3)))


@pytest.fixture
def tiny_cnn() -> torch.nn.Module:
    torch.manual_seed(1234)
    model = TinyCNN()
    with torch.no_grad():  # non-trivial BN statistics
        model.bn1.running_mean.uniform_(-0.2, 0.2)
        model.bn1.running_var.uniform_(0.5, 1.5)
    return model.eval()
