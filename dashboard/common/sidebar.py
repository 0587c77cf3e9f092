"""The shared sidebar: which demo photos are in use and the kernel backend (model choice lives on the pages)."""

from __future__ import annotations

import sys

import streamlit as st

from dashboard.common.photos import BUILTIN, CONFIGURED, PHOTO_SET_KEY, configured_status, data_status
from saliency_core.data.builtin import TITLE as BUILTIN_TITLE

BACKEND_HELP = {
    "extension+cuda": "compiled C++ kernels, CUDA kernels on the GPU",
    "extension": "compiled C++ kernels (CPU)",
    "reference": "plain-torch reference kernels (the compiled extension is not loaded; slower)",
}
PHOTO_SET_LABELS = {CONFIGURED: "Your photos (SALIENCY_DATA)", BUILTIN: "Built-in photos"}
BUILTIN_CREDIT = ("Oxford-IIIT Pet (Parkhi et al., CVPR 2012), CC BY-SA 4.0, resized and re-encoded: "
                  "see `saliency_core/data/builtin_photos/ATTRIBUTION.md`.")


def render() -> None:
    with st.sidebar:
        st.markdown("#### Saliency Lab")
        configured = configured_status()
        if configured is not None and configured.ok:  # the built-in photos beside the configured ones
            st.radio("Demo photos", [CONFIGURED, BUILTIN], format_func=PHOTO_SET_LABELS.__getitem__,
                     key=PHOTO_SET_KEY, horizontal=True)
        status = data_status()
        if status.ok and status.builtin:
            st.success(f"{BUILTIN_TITLE}: {status.n_images:,} photos", icon=":material/photo_library:")
            st.caption(BUILTIN_CREDIT + (" Set `SALIENCY_DATA` to use your own photos."
                                         if configured is None else ""))
        elif status.ok:
            st.success(f"Your photos (`SALIENCY_DATA`): {status.n_images:,}; the pages use their test split",
                       icon=":material/photo_library:")
            st.caption(f"`{status.path}`")
        elif status.builtin:
            st.warning(f"The built-in photos are missing ({status.reason}).", icon=":material/warning:")
        else:
            st.warning(
                f"`SALIENCY_DATA` is set but holds no usable photos ({status.reason}). Unset it to use "
                "the built-in photos, or point it at the cats-vs-dogs folder.",
                icon=":material/warning:",
            )
        # Named once the library is loaded (by a page, or the warm-up thread): importing it here
        # would make a new server's first page wait for PyTorch.
        if "saliency_core.kernels" in sys.modules:
            from saliency_core import backend

            name = backend()
            st.caption(f"Kernel backend: **{name}**  \n{BACKEND_HELP.get(name, '')}")
