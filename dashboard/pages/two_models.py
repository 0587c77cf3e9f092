"""Two models (placeholder while the page is being built)."""

import streamlit as st

st.title("Two models")
st.info("This page is being built.")
