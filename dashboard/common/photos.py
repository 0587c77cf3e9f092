"""Where the demo photos are and whether there are any: the sidebar's status, the pages' guard.

The folder is ``saliency_core.data.data_dir()`` (``SALIENCY_DATA`` or the per-user cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from dashboard.common.messages import NO_DATA_MESSAGE
from saliency_core.data import data_dir
from saliency_core.data.loaders import IMAGE_SUFFIXES


@dataclass(frozen=True)
class DataStatus:
    ok: bool
    path: Path | None
    reason: str
    n_images: int = 0


def count_images(root: Path) -> int:
    """Photos under ``root``: manifest rows, else image files one folder down."""
    manifest = root / "MANIFEST.csv"
    if manifest.is_file():
        with manifest.open(newline="") as f:
            return max(0, sum(1 for line in f if line.strip()) - 1)
    n = 0
    for sub in root.iterdir():
        if sub.is_dir():
            n += sum(1 for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return n


def data_status() -> DataStatus:
    """The data directory and whether it holds photos."""
    try:
        path = data_dir()
    except FileNotFoundError as err:
        return DataStatus(False, None, str(err))
    except Exception as err:  # noqa: BLE001 - a bad setting is a message, not a crash
        return DataStatus(False, None, f"data directory not usable: {err}")
    try:
        n = count_images(path)
    except OSError as err:
        return DataStatus(False, path, f"{path} cannot be read: {err}")
    if n == 0:
        return DataStatus(False, path, f"{path} holds no photos")
    return DataStatus(True, path, "ok", n)


def require_data() -> Path:
    """The data directory, or show :data:`NO_DATA_MESSAGE` and stop the page."""
    status = data_status()
    if not status.ok:
        st.info(NO_DATA_MESSAGE, icon=":material/photo_library:")
        st.caption(f"Details: {status.reason}.")
        st.stop()
    assert status.path is not None
    return status.path
