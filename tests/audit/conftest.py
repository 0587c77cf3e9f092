"""Fixtures of the audit tests."""

from __future__ import annotations

import pytest
from _audit_fixtures import CountingExplain


@pytest.fixture
def counting_explain() -> CountingExplain:
    return CountingExplain()
