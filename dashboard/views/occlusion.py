"""Occlusion: hide parts of an image and watch both models' predictions (the explorable's §2–3).

*Manual*: an N×N grid over the image. Hovering a cell hides it and shows both models' predictions
(answered in the browser from precomputed single-cell predictions, a Custom Component v2);
clicking keeps it hidden (the cumulative set, session key ``occluded_cells``, re-predicted in
Python). A cell picker writes the same key, so the page works and tests without JavaScript.
*Automatic*: every cell hidden in turn; colour = P(dog) with that cell hidden (PuOr), plus the
fine occlusion attribution map of ``saliency_core.occlusion``.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from dashboard.common.chips import prediction_chip
from dashboard.common.demo_sets import occlusion_pairs
from dashboard.common.models import CLASSES, require_models, title
from dashboard.common.occlusion import SIZES, cached_fine_map, cached_sweep, grid, is_cached, is_fine_cached
from dashboard.common.palette import CAT_COLOUR, DOG_COLOUR
from dashboard.common.photos import require_data
from dashboard.common.render import data_uri, grid_overlay, overlay, upscale
from dashboard.common.uploads import validate_image
from dashboard.common.widgets import image_strip
from dashboard.components.occlusion_grid import clicked_cell, occlusion_grid

MODELS = ("normal", "watermark-100")
N_PAIRS = 6                       # 6 photos, each clean and watermarked: a strip of 12
IMAGE_KEY = "occlusion_image"     # id of the chosen image ("upload" for the uploaded one)
CELLS_KEY = "occluded_cells"      # the cumulative set of hidden cells (list of cell indices)
GRID_KEY = "occlusion_n"
AUTO_KEY = "occlusion_auto_n"
UPLOAD_KEY = "occlusion_upload"
UPLOADED = "occlusion_uploaded"   # (sha256, name, tensor [3,128,128]) of a validated upload
COMPONENT_KEY = "occlusion_grid"
DISPLAY = 384


def _chip(probs: np.ndarray) -> str:
    k = int(np.argmax(probs))
    return prediction_chip(CLASSES[k], float(probs[k]))


def _clear_cells() -> None:
    st.session_state[CELLS_KEY] = []


def _pick(image_id: str) -> None:
    st.session_state[IMAGE_KEY] = image_id
    _clear_cells()


def _toggle_cell() -> None:
    cell = clicked_cell(COMPONENT_KEY)
    if cell is None:
        return
    cells = set(st.session_state.get(CELLS_KEY) or [])
    cells ^= {cell}
    st.session_state[CELLS_KEY] = sorted(cells)


def _read_upload() -> None:
    """Validate the uploaded file into the model frame (``validate_image``: Pillow verify, pixel
    cap, EXIF, RGB, one frame); a bad file's reason is kept for the page to show."""
    file = st.session_state.get(UPLOAD_KEY)
    if file is None:  # the upload was removed: forget it (and its error), back to the photo strip
        st.session_state.pop(UPLOADED, None)
        if st.session_state.get(IMAGE_KEY) == "upload":
            st.session_state.pop(IMAGE_KEY, None)
            _clear_cells()
        return
    try:
        upload = validate_image(file.name, file.getvalue())
    except ValueError as err:
        st.session_state[UPLOADED] = ("error", f"{file.name}: {err}", None)
        return
    st.session_state[UPLOADED] = (upload.digest, file.name, upload.image)
    _pick("upload")


st.title("Occlusion")
st.markdown(
    "If a model relies on part of an image, hiding that part should change its prediction. "
    "Pick a photo, then hide parts of it and watch both models: **Normal** and **Watermark** "
    "(trained with a watermark on every cat)."
)

require_data()
require_models(*MODELS)
pairs = occlusion_pairs(N_PAIRS)
st.session_state.setdefault(IMAGE_KEY, pairs.ids[1])
st.session_state.setdefault(CELLS_KEY, [])
st.session_state.setdefault(GRID_KEY, 6)
st.session_state.setdefault(AUTO_KEY, 6)

# ------------------------------------------------------------------ the image strip (or an upload)
if st.session_state.get(IMAGE_KEY) in pairs.ids:  # keep the strip in step with the chosen image
    st.session_state["occlusion_strip"] = st.session_state[IMAGE_KEY]
image_strip(pairs, "occlusion_strip", default=1,
            on_pick=lambda: _pick(st.session_state["occlusion_strip"]))
with st.expander("…or occlude your own image", expanded=st.session_state.get(IMAGE_KEY) == "upload"):
    st.file_uploader("Your image (PNG, JPEG, WebP or BMP; it is resized to the models' 128×128 frame)",
                     type=["png", "jpg", "jpeg", "webp", "bmp"], key=UPLOAD_KEY, on_change=_read_upload)

uploaded = st.session_state.get(UPLOADED)
if uploaded is not None and uploaded[0] == "error":
    st.error(f"That file can't be used: {uploaded[1]}")
if st.session_state[IMAGE_KEY] == "upload" and uploaded is not None and uploaded[0] != "error":
    image_key: tuple = ("upload", uploaded[0])
    image: torch.Tensor = uploaded[2]
    caption = f"Your image: {uploaded[1]}"
else:
    if st.session_state[IMAGE_KEY] not in pairs.ids:
        st.session_state[IMAGE_KEY] = pairs.ids[1]
    idx = pairs.index(st.session_state[IMAGE_KEY])
    image_key = (*pairs.key, pairs.ids[idx])
    image = pairs.images[idx]
    caption = f"{pairs.labels[idx]} photo {pairs.ids[idx]}" + (" with a watermark" if pairs.watermarked[idx] else "")

manual, automatic = st.tabs(["Manual", "Automatic"])


# ------------------------------------------------------------------------------------------ manual
@st.fragment
def manual_panel() -> None:
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    requested = c1.select_slider("Grid size (cells per side)", options=SIZES, key=GRID_KEY,
                                 on_change=_clear_cells)
    c2.caption(caption)
    g = grid(requested)
    cells = sorted({int(c) for c in (st.session_state.get(CELLS_KEY) or []) if 0 <= int(c) < g.n * g.n})
    st.session_state[CELLS_KEY] = cells
    results = {}
    todo = [m for m in MODELS if not is_cached(m, image_key, g, cells)]
    bar = st.progress(0.0, text="Occluding each cell…") if todo else None
    for j, name in enumerate(MODELS):
        def report(f: float, j: int = j) -> None:
            if bar is not None:
                bar.progress(min(1.0, (j + f) / len(MODELS)), text="Occluding each cell…")
        results[name] = cached_sweep(name, image_key, image, g, cells, progress=report)
    if bar is not None:
        bar.empty()

    occlusion_grid(
        image_uri=data_uri(upscale(image, DISPLAY)), n=g.n, edges=g.col_edges.tolist(), size=g.width,
        occluded=cells, key=COMPONENT_KEY, on_toggle=_toggle_cell, display=DISPLAY,
        models=[{"name": m, "title": title(m), "base": float(results[m][0][1]),
                 "hover": results[m][1][:, 1].tolist()} for m in MODELS],
    )

    hidden = f"{len(cells)} cell{'s' if len(cells) != 1 else ''} hidden" if cells else "nothing hidden"
    readout = " &nbsp; ".join(f"{title(m)}: {_chip(results[m][0])}" for m in MODELS)
    st.markdown(f'<div class="sl-occ-readout">Predictions with {hidden}: &nbsp; {readout}</div>',
                unsafe_allow_html=True)
    with st.expander("Pick cells without the mouse", expanded=False):
        st.multiselect("Hidden cells", options=list(range(g.n * g.n)), format_func=g.label, key=CELLS_KEY,
                       help="The same set that clicking the grid builds.")
        st.button("Show the whole image again", on_click=_clear_cells, key="occlusion_clear")


with manual:
    manual_panel()


# --------------------------------------------------------------------------------------- automatic
@st.fragment
def automatic_panel() -> None:
    st.markdown("The colour of each box shows what the model would predict if that box was hidden: "
                f'<b style="color:{CAT_COLOUR}">cat</b> ← → <b style="color:{DOG_COLOUR}">dog</b>.',
                unsafe_allow_html=True)
    c1, c2 = st.columns(2)
    requested = c1.select_slider("Grid resolution", options=SIZES, key=AUTO_KEY)
    alpha = c2.slider("Colour opacity", 0.0, 1.0, 0.6, 0.05, key="occlusion_auto_alpha")
    g = grid(requested)
    cols = st.columns(len(MODELS))
    for name, col in zip(MODELS, cols, strict=True):
        with col:
            st.subheader(title(name))
            bar = None if is_cached(name, image_key, g) else st.progress(0.0, text=f"Occluding for {title(name)}…")
            base, hover = cached_sweep(name, image_key, image, g,
                                       progress=(lambda f, b=bar: b.progress(f)) if bar else None)
            if bar is not None:
                bar.empty()
            st.markdown(f"Unoccluded: {_chip(base)}", unsafe_allow_html=True)
            picture = grid_overlay(upscale(image, DISPLAY), hover[:, 1].reshape(g.n, g.n), alpha=alpha,
                                   edges=g.col_edges, frame=g.width)
            st.image(picture, caption=f"P(dog) with each of {g.n}×{g.n} cells hidden", width=DISPLAY)

    st.markdown("##### Fine occlusion map")
    st.caption("`saliency_core.occlusion`: a 16-pixel black window slid in steps of 8; each pixel "
               "shows how much hiding it lowers the score of the predicted class (red) or raises "
               "it (blue).")
    cols = st.columns(len(MODELS))
    for name, col in zip(MODELS, cols, strict=True):
        with col:
            bar = None if is_fine_cached(name, image_key) else st.progress(0.0, text="Occlusion map…")
            fine = cached_fine_map(name, image_key, image,
                                   progress=(lambda f, b=bar: b.progress(f)) if bar else None)
            if bar is not None:
                bar.empty()
            st.image(overlay(upscale(image, DISPLAY), fine, alpha=alpha, cmap="signed"),
                     caption=f"{title(name)}: occlusion attribution", width=DISPLAY)


with automatic:
    automatic_panel()
