"""The shared sidebar: data status and kernel backend (model choice lives on the pages)."""

from __future__ import annotations

import streamlit as st

from dashboard.common.photos import data_status
from saliency_core import backend

BACKEND_HELP = {
    "extension+cuda": "compiled C++ kernels, CUDA kernels on the GPU",
    "extension": "compiled C++ kernels (CPU)",
    "reference": "plain-torch reference kernels (the compiled extension is not loaded; slower)",
}


def render() -> None:
    with st.sidebar:
        st.markdown("#### Saliency Lab")
        status = data_status()
        if status.ok:
            st.success(f"Demo data: {status.n_images:,} photos", icon=":material/photo_library:")
            st.caption(f"`{status.path}`")
        else:
            st.warning(
                "No demo data. Set `SALIENCY_DATA` to the photo folder, or run "
                "`saliency-lab data fetch`.",
                icon=":material/warning:",
            )
        name = backend()
        st.caption(f"Kernel backend: **{name}**  \n{BACKEND_HELP.get(name, '')}")
