"""Download buttons for what a page shows: its pictures as PNG, its numbers as CSV.

Every page that shows maps or numbers offers them, so a reader can keep or check what they saw.
A CSV's bytes are made when the page runs (tables are small); a PNG's only when the button is
clicked (``st.download_button`` takes a callable): encoding a grid of maps took ~0.1–0.2 s of
every run of the Gradients page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.common.render import png_bytes

__all__ = ["csv_bytes", "csv_download", "png_download"]


def png_download(label: str, image: Any, file_name: str, key: str) -> None:
    """A button that downloads ``image`` (any picture :func:`~dashboard.common.render.png_bytes`
    takes: uint8 or [0,1] float, [H,W,3] or [3,H,W]) as ``file_name`` (a PNG)."""
    st.download_button(label, data=lambda: png_bytes(image), file_name=_named(file_name, ".png"),
                       mime="image/png", key=key, icon=":material/image:", on_click="ignore")


def csv_bytes(frame: pd.DataFrame, *, index: bool = False) -> bytes:
    """The table as UTF-8 CSV (``index``: keep the row labels, for grouped tables)."""
    return frame.to_csv(index=index).encode("utf-8")


def csv_download(label: str, frame: pd.DataFrame, file_name: str, key: str, *, index: bool = False) -> None:
    """A button that downloads ``frame`` as ``file_name`` (a CSV; ``index`` keeps the row labels)."""
    st.download_button(label, data=csv_bytes(frame, index=index), file_name=_named(file_name, ".csv"),
                       mime="text/csv", key=key, icon=":material/table_view:", on_click="ignore")


def _named(file_name: str, suffix: str) -> str:
    if not file_name or "/" in file_name or "\\" in file_name:
        raise ValueError(f"file_name must be a plain file name, got {file_name!r}")
    return file_name if file_name.lower().endswith(suffix) else file_name + suffix
