"""Quadrants (placeholder while the page is being built)."""

import streamlit as st

st.title("Quadrants")
st.info("This page is being built.")
