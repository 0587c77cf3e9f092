"""Which demo photos the pages use, and whether there are any: the sidebar's status, the pages' guard.

* Nothing configured: the built-in photos (``saliency_core.data.builtin``: 880 Oxford-IIIT Pet
  cats and dogs with pet masks, CC BY-SA 4.0), shipped with the package;
* ``SALIENCY_DATA`` set to a usable folder (the cats-vs-dogs photos): its test split, and the
  sidebar offers the built-in photos beside it (``st.session_state[PHOTO_SET_KEY]``);
* ``SALIENCY_DATA`` set to a folder without photos: the how-to message (never a silent switch).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from dashboard.common.messages import NO_DATA_MESSAGE
from saliency_core.data import data_dir
from saliency_core.data.builtin import TITLE as BUILTIN_TITLE
from saliency_core.data.builtin import builtin_dir, builtin_manifest
from saliency_core.data.manifest import IMAGE_SUFFIXES

PHOTO_SET_KEY = "photo_set"  # the sidebar's choice when SALIENCY_DATA is usable: CONFIGURED or BUILTIN
CONFIGURED, BUILTIN = "configured", "builtin"
CONFIGURED_TITLE = "Your photos (SALIENCY_DATA), their test split"


@dataclass(frozen=True)
class DataStatus:
    """``ok`` with ``path`` and ``n_images`` when there are photos, else the ``reason``;
    ``title`` names the set in words and ``builtin`` says whether it is the built-in one."""

    ok: bool
    path: Path | None
    reason: str
    n_images: int = 0
    title: str = ""
    builtin: bool = False


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


def builtin_status() -> DataStatus:
    """The built-in photos (missing only from a damaged installation)."""
    try:
        return DataStatus(True, builtin_dir(), "ok", len(builtin_manifest()), BUILTIN_TITLE, builtin=True)
    except (OSError, ValueError) as err:
        return DataStatus(False, None, str(err), title=BUILTIN_TITLE, builtin=True)


def configured_status() -> DataStatus | None:
    """The ``SALIENCY_DATA`` folder and whether it holds photos (None when it is not set)."""
    if not os.environ.get("SALIENCY_DATA"):
        return None
    try:
        path = data_dir()
    except FileNotFoundError as err:
        return DataStatus(False, None, str(err), title=CONFIGURED_TITLE)
    except Exception as err:  # noqa: BLE001 - a bad setting is a message, not a crash
        return DataStatus(False, None, f"data directory not usable: {err}", title=CONFIGURED_TITLE)
    try:
        n = count_images(path)
    except OSError as err:
        return DataStatus(False, path, f"{path} cannot be read: {err}", title=CONFIGURED_TITLE)
    if n == 0:
        return DataStatus(False, path, f"{path} holds no photos", title=CONFIGURED_TITLE)
    return DataStatus(True, path, "ok", n, CONFIGURED_TITLE)


def default_status() -> DataStatus:
    """The photos a new session starts with (no sidebar choice yet): ``SALIENCY_DATA``'s folder
    when it is set, else the built-in photos. Reads no session state (any thread may call it)."""
    configured = configured_status()
    return builtin_status() if configured is None else configured


def data_status() -> DataStatus:
    """The photos the pages use now: the built-in ones, unless ``SALIENCY_DATA`` is set (then its
    folder, or the built-in photos when the sidebar's choice says so and the folder is usable)."""
    configured = configured_status()
    if configured is None or (configured.ok and st.session_state.get(PHOTO_SET_KEY) == BUILTIN):
        return builtin_status()
    return configured


def require_data() -> Path:
    """The photo folder in use, or show :data:`NO_DATA_MESSAGE` and stop the page."""
    status = data_status()
    if not status.ok:
        st.info(NO_DATA_MESSAGE, icon=":material/photo_library:")
        st.caption(f"Details: {status.reason}.")
        st.stop()
    assert status.path is not None
    return status.path
