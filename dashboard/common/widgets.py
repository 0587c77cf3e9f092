"""Shared page widgets: the thumbnail strip image picker, the cat→dog legend, columns that stay
side by side on a phone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard.common.demo_sets import DemoSet
from dashboard.common.palette import CAT_COLOUR, DOG_COLOUR, PUOR_STOPS
from dashboard.common.render import upscale


def image_strip(demo: DemoSet, key: str, *, default: int = 0, on_pick: Callable[[], None] | None = None,
                extra_column: bool = False) -> tuple[int, Any]:
    """Thumbnails of ``demo`` with a button under each; the chosen id lives in
    ``st.session_state[key]``. Returns (chosen index, the spare column when ``extra_column``)."""
    ids = demo.ids
    if st.session_state.get(key) not in ids:
        st.session_state[key] = ids[default]

    def pick(image_id: str) -> None:
        st.session_state[key] = image_id
        if on_pick is not None:
            on_pick()

    strip = f"{key}_strip"
    # on a phone the photos stay one strip that scrolls sideways, not a column of full-width photos
    st.html(side_by_side_css(strip, column_width="4.5rem"))  # style only: it takes no space
    cols = st.container(key=strip).columns(len(ids) + (1 if extra_column else 0), gap="small")
    for i, col in enumerate(cols[: len(ids)]):
        with col:
            st.image(upscale(demo.image(i), 96), width="stretch")
            mark = " ©" if demo.watermarked[i] else ""
            st.button(f"{demo.labels[i]}{mark}", key=f"{key}_pick_{i}", on_click=pick,
                      args=(ids[i],), width="stretch",
                      type="primary" if st.session_state[key] == ids[i] else "secondary",
                      help=f"{ids[i]}: a {demo.labels[i]}" + (" with a watermark" if mark else ""))
    return ids.index(st.session_state[key]), (cols[-1] if extra_column else None)


def puor_legend(label: str = "P(dog)") -> str:
    """HTML: a small PuOr gradient bar from cat to dog."""
    stops = ", ".join(PUOR_STOPS)
    return (
        f'<div style="display:flex;align-items:center;gap:.5rem;font-size:.85rem">'
        f'<b style="color:{CAT_COLOUR}">cat</b>'
        f'<span style="display:inline-block;width:12rem;height:.7rem;border-radius:3px;'
        f'background:linear-gradient(to right, {stops})"></span>'
        f'<b style="color:{DOG_COLOUR}">dog</b><span style="opacity:.7">({label})</span></div>'
    )


PHONE = "@media (max-width: 639.98px)"  # below Streamlit's 640-px breakpoint, columns stack


def side_by_side_css(key: str, *, column_width: str | None = None) -> str:
    """A ``<style>`` that keeps the columns inside the container ``key`` side by side on a phone,
    where Streamlit would stack them: equal shares of the width, or ``column_width`` each in a
    strip that scrolls sideways. Wider screens are untouched."""
    row = f".st-key-{key} [data-testid=stHorizontalBlock]"
    column = f"{row} > [data-testid=stColumn]"
    if column_width is None:
        rules = f"{row}{{flex-wrap:nowrap}}{column}{{flex:1 1 0;min-width:0;width:auto}}"
    else:
        rules = (f"{row}{{flex-wrap:nowrap;overflow-x:auto}}"
                 f"{column}{{flex:0 0 {column_width};min-width:{column_width};width:{column_width}}}")
    return f"<style>{PHONE}{{{rules}}}</style>"
