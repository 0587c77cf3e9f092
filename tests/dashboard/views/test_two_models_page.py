"""The Two models page: the Watermark model looks perfect until the watermark is gone."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app_harness import needs_trained, no_exception, texts

TWO = "views/two_models.py"


def correct_counts(at: Any) -> dict[str, int]:
    """{"normal": N, "watermark-100": M} from the two "N/50 correct" lines."""
    found = {}
    for md in at.markdown:
        m = re.search(r'data-model="([^"]+)".*?(\d+)/(\d+) correct', str(md.value))
        if m:
            found[m.group(1)] = int(m.group(2))
    return found


def test_two_models_toggle_changes_the_counts(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(TWO)
    no_exception(at)
    first = correct_counts(at)
    assert set(first) == {"normal", "watermark-100"}
    assert "50 correct" in texts(at)
    at.segmented_control(key="two_models_set").set_value("clean").run()
    no_exception(at)
    clean = correct_counts(at)
    assert set(clean) == {"normal", "watermark-100"}
    needs_trained(zoo)
    # the Watermark model learned "watermark -> cat": without the mark it calls cats dogs
    assert clean["watermark-100"] <= first["watermark-100"] - 10, (first, clean)
    assert first["watermark-100"] >= 45
    assert clean["normal"] >= 33  # about 79% clean-test accuracy (model card)
