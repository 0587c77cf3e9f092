"""Error messages on the pages are one plain line, never a traceback."""

from __future__ import annotations

from dashboard.common.messages import plain_error


def test_plain_error_drops_torchscript_traceback_text_but_keeps_the_cause() -> None:
    error = ValueError("the model failed: The following operation failed.\nTraceback of TorchScript "
                       "(most recent call last):\n  File \"x.py\", line 4, in forward\n    ~~~ <--- HERE\n"
                       "RuntimeError: mat1 and mat2 shapes cannot be multiplied\n")
    text = plain_error(error)
    assert "Traceback" not in text and "File " not in text and "\n" not in text
    assert text.startswith("the model failed") and text.endswith("shapes cannot be multiplied")
    assert len(plain_error(ValueError("x" * 5000))) <= 300
