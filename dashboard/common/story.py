"""The story's order: which page comes after which, and the "Next" link at the foot of each page.

The explorable's path first (introduction → two models → occlusion → gradients → quadrants →
mystery models → beyond simple saliency), then the tools for one's own data (dataset audit, your
model). ``dashboard/app.py`` calls :func:`next_link` after the page it ran, so every page in
:data:`STORY` ends with a link to the next one (the last links back to the start); a page that
stops early (no photos, no zoo) shows no link, since it has not told its part yet.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# (file under dashboard/, link label) in story order.
STORY: tuple[tuple[str, str], ...] = (
    ("views/introduction.py", "Introduction"),
    ("views/two_models.py", "Two models"),
    ("views/occlusion.py", "Occlusion"),
    ("views/gradients.py", "Gradients"),
    ("views/quadrants.py", "Quadrants"),
    ("views/mystery.py", "Mystery models"),
    ("views/beyond.py", "Beyond simple saliency"),
    ("views/dataset_audit.py", "Dataset audit"),
    ("views/your_model.py", "Your model & images"),
)
PATHS: tuple[str, ...] = tuple(path for path, _ in STORY)


def _normalise(page: str | Path) -> str:
    """``"views/x.py"`` for a page given as that, as an absolute file path or as ``"x"``."""
    name = Path(str(page)).name
    if not name.endswith(".py"):
        name += ".py"
    return f"views/{name}"


def next_page(current: str | Path) -> tuple[str, str] | None:
    """(file, label) of the page after ``current``; the first page after the last one; None for a
    page that is not part of the story."""
    path = _normalise(current)
    if path not in PATHS:
        return None
    return STORY[(PATHS.index(path) + 1) % len(STORY)]


def next_link(current: str | Path) -> None:
    """A divider and an ``st.page_link`` to the page after ``current`` (nothing for other pages)."""
    following = next_page(current)
    if following is None:
        return
    path, label = following
    last = _normalise(current) == PATHS[-1]
    st.divider()
    st.page_link(path, label=f"Back to the start: {label}" if last else f"Next: {label}",
                 icon=":material/restart_alt:" if last else ":material/arrow_forward:")
