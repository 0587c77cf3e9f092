"""Gradients (placeholder while the page is being built)."""

import streamlit as st

st.title("Gradients")
st.info("This page is being built.")
