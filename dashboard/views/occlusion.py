"""Occlusion: hide parts of an image and watch both models' predictions (the explorable's §2–3).

*Manual*: an N×N grid over the image. Hovering a cell hides it and shows both models' predictions
(answered in the browser from precomputed single-cell predictions, a Custom Component v2);
clicking keeps it hidden (the cumulative set, session key ``occluded_cells``, re-predicted in
Python). A cell picker writes the same key, so the page works and tests without JavaScript.
*Automatic*: every cell hidden in turn; colour = P(dog) with that cell hidden (PuOr), plus the
fine occlusion attribution map of ``saliency_core.occlusion``; each grid downloads as PNG and as a CSV
of P(class) per cell. The page opens with the explorable's question and, for the demo photos, ends
with the lesson measured on the photo on show (``dashboard.common.lessons``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch

from dashboard.common.chips import chip_for
from dashboard.common.demo_sets import occlusion_pairs
from dashboard.common.downloads import csv_download, png_download
from dashboard.common.lessons import occlusion_lesson, occlusion_question
from dashboard.common.models import CLASSES, require_models, zoo_names
from dashboard.common.occlusion import SIZES, CellGrid, cached_fine_map, cached_sweep, grid, is_cached, is_fine_cached
from dashboard.common.palette import CAT_COLOUR, DOG_COLOUR
from dashboard.common.photos import require_data
from dashboard.common.render import data_uri, grid_overlay, overlay, upscale
from dashboard.common.session_models import (
    ModelChoice,
    class_names_of,
    is_cat_dog,
    model_choices,
    run_upload,
    shown_class,
    upload_cells,
    upload_fine_map,
)
from dashboard.common.uploads import validate_image
from dashboard.common.widgets import image_strip
from dashboard.components.occlusion_grid import clicked_cell, occlusion_grid

MODELS = ("normal", "watermark-100")  # the default pair
MODELS_KEY = "occlusion_models"
N_PAIRS = 6                       # 6 photos, each clean and watermarked: a strip of 12
IMAGE_KEY = "occlusion_image"     # id of the chosen image ("upload" for the uploaded one)
CELLS_KEY = "occluded_cells"      # the cumulative set of hidden cells (list of cell indices)
GRID_KEY = "occlusion_n"
AUTO_KEY = "occlusion_auto_n"
TAB_KEY = "occlusion_tab"
UPLOAD_KEY = "occlusion_upload"
UPLOADED = "occlusion_uploaded"   # (sha256, name, tensor [3,128,128]) of a validated upload
COMPONENT_KEY = "occlusion_grid"
DISPLAY = 384
LESSON_MODEL = "watermark-100"  # the lesson's model: the one the question asks to flip
LESSON_GRID = 18                  # the finest automatic grid, the one that misses the mark


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
occlusion_question()

require_data()
choices = {c.key: c for c in model_choices()}  # the zoo, then this session's uploaded model (if any)
picked = st.multiselect("Models", list(choices), default=[m for m in MODELS if m in choices], key=MODELS_KEY,
                        format_func=lambda key: choices[key].title if key in choices else key, max_selections=3,
                        help="Your own model joins the zoo's here once you upload it on the Your-model page.")
if not picked:
    st.info("Choose at least one model.")
    st.stop()
require_models(*[k for k in picked if choices[k].zoo])
chosen: list[ModelChoice] = [choices[k] for k in picked]
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
    lesson_photo: tuple[list[float], bool] | None = None  # an uploaded photo has no watermark box: no lesson
    image: torch.Tensor = uploaded[2]
    caption = f"Your image: {uploaded[1]}"
else:
    if st.session_state[IMAGE_KEY] not in pairs.ids:
        st.session_state[IMAGE_KEY] = pairs.ids[1]
    idx = pairs.index(st.session_state[IMAGE_KEY])
    image_key = (*pairs.key, pairs.ids[idx])
    lesson_photo = (pairs.boxes[idx].tolist(), bool(pairs.watermarked[idx]))  # (its box, marked)
    image = pairs.image(idx)
    caption = f"{pairs.labels[idx]} photo {pairs.ids[idx]}" + (" with a watermark" if pairs.watermarked[idx] else "")

# Only the open tab runs (``on_change="rerun"``): the automatic maps are drawn when asked for
manual, automatic = st.tabs(["Manual", "Automatic"], key=TAB_KEY, on_change="rerun")


def sweeps(g: object, cells: list[int], text: str, where: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per chosen model: (probabilities with ``cells`` hidden, [n², K] with each further cell
    hidden). Zoo models: cached for the server, a progress bar the first time; an uploaded model:
    computed at its input size in its own process (time limit, Cancel), kept in the session only."""
    results: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    zoo = [c.key for c in chosen if c.zoo]
    todo = [m for m in zoo if not is_cached(m, image_key, g, cells)]
    bar = st.progress(0.0, text=text) if todo else None
    for j, name in enumerate(zoo):
        def report(f: float, j: int = j) -> None:
            if bar is not None:
                bar.progress(min(1.0, (j + f) / len(zoo)), text=text)
        results[name] = cached_sweep(name, image_key, image, g, cells, progress=report)
    if bar is not None:
        bar.empty()
    for choice in chosen:
        if not choice.zoo:
            done = run_upload(choice, f"occluding each of {g.n}×{g.n} cells", repr(image_key),
                              lambda on_wait: upload_cells(choice, image, g.n, cells, on_wait), where=where)
            if done is not None:
                results[choice.key] = done  # type: ignore[assignment]
    return results


def fine_map(choice: ModelChoice) -> np.ndarray | None:
    """The fine occlusion map of one chosen model on the page's frame (None: the upload failed)."""
    if not choice.zoo:
        return run_upload(choice, "the occlusion map", repr(image_key),  # type: ignore[return-value]
                          lambda on_wait: upload_fine_map(choice, image, on_wait=on_wait))
    bar = None if is_fine_cached(choice.key, image_key) else st.progress(0.0, text="Occlusion map…")
    fine = cached_fine_map(choice.key, image_key, image, progress=(lambda f, b=bar: b.progress(f)) if bar else None)
    if bar is not None:
        bar.empty()
    return fine


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
    results = sweeps(g, cells, "Occluding each cell…", "manual")
    shown = [c for c in chosen if c.key in results and is_cat_dog(c)]  # the grid's chips say cat / dog
    dog = CLASSES.index("dog")
    occlusion_grid(
        image_uri=data_uri(upscale(image, DISPLAY)), n=g.n, edges=g.col_edges.tolist(), size=g.width,
        occluded=cells, key=COMPONENT_KEY, on_toggle=_toggle_cell, display=DISPLAY,
        models=[{"name": c.key, "title": c.title, "base": float(results[c.key][0][dog]),
                 "hover": results[c.key][1][:, dog].tolist()} for c in shown],
    )

    hidden = f"{len(cells)} cell{'s' if len(cells) != 1 else ''} hidden" if cells else "nothing hidden"
    readout = " &nbsp; ".join(f"{c.title}: {chip_for(results[c.key][0], class_names_of(c))}"
                              for c in chosen if c.key in results)
    st.markdown(f'<div class="sl-occ-readout">Predictions with {hidden}: &nbsp; {readout}</div>',
                unsafe_allow_html=True)
    with st.expander("Pick cells without the mouse", expanded=False):
        st.multiselect("Hidden cells", options=list(range(g.n * g.n)), format_func=g.label, key=CELLS_KEY,
                       help="The same set that clicking the grid builds.")
        st.button("Show the whole image again", on_click=_clear_cells, key="occlusion_clear")


if manual.open:
    with manual:
        manual_panel()


# --------------------------------------------------------------------------------------- automatic
def file_part(choice: ModelChoice) -> str:
    """The model's part of a download's file name (an upload's key holds a colon)."""
    return choice.key if choice.zoo else "your-model"


def cell_table(g: CellGrid, probabilities: np.ndarray, classes: tuple[str, ...]) -> pd.DataFrame:
    """One row per cell of the grid ``g``: where it is (1-based row/column, its pixel rectangle in
    the 128-px frame) and the model's probability of each class with that cell hidden."""
    rows = []
    for cell in range(g.n * g.n):
        x0, y0, x1, y1 = g.rect(cell)
        rows.append({"cell": cell, "row": cell // g.n + 1, "column": cell % g.n + 1,
                     "x0": x0, "y0": y0, "x1": x1, "y1": y1,
                     **{f"P({name})": float(p) for name, p in zip(classes, probabilities[cell], strict=True)}})
    return pd.DataFrame(rows)


@st.fragment
def automatic_panel() -> None:
    st.markdown("The colour of each box shows what the model would predict if that box was hidden: "
                f'<b style="color:{CAT_COLOUR}">cat</b> ← → <b style="color:{DOG_COLOUR}">dog</b>.',
                unsafe_allow_html=True)
    c1, c2 = st.columns(2)
    requested = c1.select_slider("Grid resolution", options=SIZES, key=AUTO_KEY)
    alpha = c2.slider("Colour opacity", 0.0, 1.0, 0.6, 0.05, key="occlusion_auto_alpha")
    g = grid(requested)
    results = sweeps(g, [], "Occluding each cell…", "automatic")
    cols = st.columns(len(chosen))
    for choice, col in zip(chosen, cols, strict=True):
        with col:
            st.subheader(choice.title)
            if choice.key not in results:
                continue
            base, hover = results[choice.key]
            k = shown_class(choice, base)
            name = class_names_of(choice)[k]
            st.markdown(f"Unoccluded: {chip_for(base, class_names_of(choice))}", unsafe_allow_html=True)
            picture = grid_overlay(upscale(image, DISPLAY), hover[:, k].reshape(g.n, g.n), alpha=alpha,
                                   edges=g.col_edges, frame=g.width)
            st.image(picture, caption=f"P({name}) with each of {g.n}×{g.n} cells hidden", width=DISPLAY)
            png_download("This grid (PNG)", picture, f"occlusion-{g.n}x{g.n}-{file_part(choice)}.png",
                         key=f"occlusion_grid_png_{choice.key}")
            csv_download("P(class) per cell (CSV)", cell_table(g, hover, class_names_of(choice)),
                         f"occlusion-{g.n}x{g.n}-{file_part(choice)}.csv", key=f"occlusion_grid_csv_{choice.key}")

    st.markdown("##### Fine occlusion map")
    st.caption("`saliency_core.occlusion`: a 16-pixel black window slid in steps of 8; each pixel "
               "shows how much hiding it lowers the score of the predicted class (red) or raises "
               "it (blue).")
    cols = st.columns(len(chosen))
    for choice, col in zip(chosen, cols, strict=True):
        with col:
            fine = fine_map(choice)
            if fine is not None:
                st.image(overlay(upscale(image, DISPLAY), fine, alpha=alpha, cmap="signed"),
                         caption=f"{choice.title}: occlusion attribution", width=DISPLAY)


if automatic.open:
    with automatic:
        automatic_panel()

# The lesson measures (four 18×18 sweeps, ~2 s the first time per photo, cached): last, so the
# page's own content is already on screen while it runs.
if lesson_photo is not None and LESSON_MODEL in zoo_names():
    box, marked = lesson_photo
    occlusion_lesson(LESSON_MODEL, image_key, image, box, LESSON_GRID, marked=marked)
