"""Prediction chips: "cat 97.3%" on the class colour, as in the explorable."""

from __future__ import annotations

import html
from collections.abc import Sequence

import streamlit as st

from dashboard.common.palette import CLASS_COLOURS

CHIP_STYLE = (
    "display:inline-block;padding:1px 8px;border-radius:10px;font-size:0.85rem;"
    "font-weight:600;color:#fff;background:{bg};white-space:nowrap;"
)


def prediction_chip(label: str, prob: float, *, correct: bool | None = None) -> str:
    """HTML for one chip; ``correct`` adds ✓/✗. Render with ``unsafe_allow_html=True``."""
    bg = CLASS_COLOURS.get(label, "#666666")
    mark = "" if correct is None else (" ✓" if correct else " ✗")
    text = f"{html.escape(label)} {100 * float(prob):.1f}%{mark}"
    return (
        f'<span class="sl-chip" data-label="{html.escape(label)}" '
        f'style="{CHIP_STYLE.format(bg=bg)}">{text}</span>'
    )


def chip_for(probs: Sequence[float], classes: Sequence[str], *, truth: str | None = None) -> str:
    """The chip of the arg-max class of one probability row."""
    k = max(range(len(probs)), key=lambda i: float(probs[i]))
    correct = None if truth is None else classes[k] == truth
    return prediction_chip(classes[k], float(probs[k]), correct=correct)


def show_chip(label: str, prob: float, *, correct: bool | None = None) -> None:
    st.markdown(prediction_chip(label, prob, correct=correct), unsafe_allow_html=True)
