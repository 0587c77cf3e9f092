"""What the story pages add around their content, seen from AppTest: the lesson boxes (by
container key) and the bytes of each download button.

``downloads`` (a fixture; import it into a test module) wraps ``st.download_button`` so that every
button a run draws records its label, file name and data under its key: AppTest shows a button's
label, not the bytes it would send.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
import streamlit as st


class Download(NamedTuple):
    label: str
    file_name: str
    data: bytes


def block_keys(at: Any) -> list[str]:
    """The keys of every keyed container of the last run (``st.container(key=...)``), in page order."""
    keys: list[str] = []

    def walk(node: Any) -> None:
        for child in getattr(node, "children", {}).values():
            block_id = str(getattr(getattr(child, "proto", None), "id", "") or "")
            if type(child).__name__ == "Block" and block_id.startswith("$$ID-"):
                keys.append(block_id.split("-", 2)[2])
            walk(child)

    walk(at._tree)
    return keys


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Download]]:
    """key -> :class:`Download` of every ``st.download_button`` drawn (the latest run's wins)."""
    seen: dict[str, Download] = {}
    real = st.download_button

    def record(label: str, data: Any, file_name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        made = data() if callable(data) else data  # a PNG's bytes are made on the click
        raw = made.encode() if isinstance(made, str) else bytes(made)
        seen[str(kwargs.get("key"))] = Download(label, str(file_name), raw)
        return real(label, data, file_name, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", record)
    yield seen
