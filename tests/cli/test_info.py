"""`saliency-lab info` is a diagnostic: it reports problems instead of failing on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from saliency_core.cli import main


def test_info_reports_a_missing_data_folder_and_still_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-folder"
    monkeypatch.setenv("SALIENCY_DATA", str(missing))
    assert main(["info"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    line = next(line for line in captured.out.splitlines() if line.startswith("data directory:"))
    assert "missing" in line and str(missing) in line


def test_info_prints_an_existing_data_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALIENCY_DATA", str(tmp_path))
    assert main(["info"]) == 0
    assert f"data directory: {tmp_path}" in capsys.readouterr().out
