"""Custom Components v2 of the dashboard (inline HTML/CSS/JS: no iframe, no network)."""

from __future__ import annotations

from typing import Any

import streamlit as st


def trigger_value(key: str, trigger: str, field: str) -> Any:
    """``field`` of the value the component ``key`` sent as its ``trigger`` (the payload its
    ``setTriggerValue(trigger, {field: ...})`` sent), read in the callback; None when absent. The
    component's state is a mapping or an object, depending on Streamlit's version."""
    state = st.session_state.get(key)
    value = None
    if state is not None:
        value = state.get(trigger) if hasattr(state, "get") else getattr(state, trigger, None)
    return value.get(field) if isinstance(value, dict) else value
