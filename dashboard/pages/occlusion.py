"""Occlusion (placeholder while the page is being built)."""

import streamlit as st

st.title("Occlusion")
st.info("This page is being built.")
