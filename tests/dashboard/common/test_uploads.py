"""Uploaded files: repeated names are kept apart."""

from __future__ import annotations

from dashboard.common.uploads import unique_names


def test_repeated_file_names_are_numbered() -> None:
    assert unique_names(["a.png", "a.png", "b.png", "a.png", "a (2).png"]) == [
        "a.png", "a (2).png", "b.png", "a (3).png", "a (2) (2).png"]
