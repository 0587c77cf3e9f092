"""Shared page widgets: the photo strip image picker, the cat→dog legend, columns that stay
side by side on a phone."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard.common.demo_sets import DemoSet
from dashboard.common.palette import CAT_COLOUR, DOG_COLOUR, PUOR_STOPS
from dashboard.common.render import data_uri, upscale
from dashboard.components.photo_strip import photo_strip, picked_index


def image_strip(demo: DemoSet, key: str, *, default: int = 0, on_pick: Callable[[], None] | None = None) -> int:
    """Thumbnails of ``demo`` to pick one from (one element: :mod:`dashboard.components.photo_strip`);
    the chosen id lives in ``st.session_state[key]``, and ``on_pick`` runs after a pick. Returns
    the chosen index."""
    ids = demo.ids
    if st.session_state.get(key) not in ids:
        st.session_state[key] = ids[default]
    strip = f"{key}_strip"

    def pick() -> None:
        index = picked_index(strip)
        if index is None or not 0 <= index < len(ids):
            return
        st.session_state[key] = ids[index]
        if on_pick is not None:
            on_pick()

    marks = [" ©" if m else "" for m in demo.watermarked]
    photo_strip(uris=thumbnails(demo, 96, quality=90), labels=[f"{lab}{m}" for lab, m in zip(demo.labels, marks)],
                titles=[f"{i}: a {lab}" + (" with a watermark" if m else "") for i, lab, m in zip(ids, demo.labels, marks)],
                selected=ids.index(st.session_state[key]), key=strip, on_pick=pick,
                label="The photos: pick one")
    return ids.index(st.session_state[key])


def thumbnails(demo: DemoSet, size: int | None = None, *, quality: int = 88) -> list[str]:
    """JPEG data URIs of a set's photos (``size`` px square; None: the model frame as it is), made
    once per set (the warm-up makes the Two models page's before a reader asks)."""
    if not demo.key:
        return _thumbnail_uris(demo, size, quality)
    return _thumbnails(tuple(demo.key), size, quality, demo)


@st.cache_data(max_entries=16, show_spinner=False)
def _thumbnails(key: tuple, size: int | None, quality: int, _demo: DemoSet) -> list[str]:
    return _thumbnail_uris(_demo, size, quality)


def _thumbnail_uris(demo: DemoSet, size: int | None, quality: int) -> list[str]:
    images = demo.images
    return [data_uri(upscale(img, size) if size else img, fmt="JPEG", quality=quality) for img in images]


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
