"""Gradients: saliency maps of several methods and models side by side (the explorable's §4).

Rows are models, columns the input and each chosen method; maps are white on black with a colour
bar (the explorable's look) or, by choice, overlaid on the photo. One line per method says what it
computes and when it misleads. "Which way does each pixel push?" shows the signed gradient in the
cat/dog palette and, on a 12×12 patch (the watermark's box by default), one arrow per pixel. A
footnote shows one image as input, vanilla gradient, gradient squared and signed gradient, with a
live count of what squaring throws away. The maps grid downloads as one PNG, the arrows' patch as CSV.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import streamlit as st
import torch

from dashboard.common.chips import chip_for
from dashboard.common.demo_sets import occlusion_pairs
from dashboard.common.downloads import csv_download, png_download
from dashboard.common.explanations import saliency_map
from dashboard.common import gradient_view
from dashboard.common.gallery import figure_grid_html
from dashboard.common.lessons import gradients_lesson, gradients_question
from dashboard.common.method_help import help_rows, help_text
from dashboard.common.models import CLASSES, METHOD_LABELS, predict_set, require_models, title, zoo_names
from dashboard.common.palette import CAT_COLOUR, DOG_COLOUR
from dashboard.common.photos import require_data
from dashboard.common.session_models import (
    choice_of,
    class_names_of,
    model_choices,
    run_upload,
    upload_maps,
)
from dashboard.common.render import (
    MAP_STYLES,
    OVERLAY,
    arrows_figure,
    colour_bar_picture,
    data_uri,
    draw_box,
    map_picture,
    side_by_side,
    to_uint8,
    upscale,
)
from dashboard.common.widgets import image_strip, side_by_side_css
from saliency_core.methods import METHODS as ALL_METHODS
from saliency_core.methods.signed_gradient import direction_counts
from saliency_core.metrics import top_percent_share

METHODS: dict[str, str] = {k: v for k, v in METHOD_LABELS.items() if k != "occlusion"}
# Fewer samples/steps than the library defaults keep a first view quick on a small CPU; seeded.
OPTIONS: dict[str, dict[str, object]] = {
    "smoothgrad": {"samples": 24, "seed": 0},
    "integrated_gradients": {"steps": 32},
}
DEFAULT_MODELS = list(gradient_view.MODELS)
DEFAULT_METHODS = list(gradient_view.METHODS)
IMAGE_KEY = "gradients_image"
DISPLAY = 256
PATCH = 12  # the arrows view's patch, in model-frame pixels
TOP_FRACTION = 0.005  # "the top 0.5% pixels", as the explorable's quadrant plots count them
CAT = gradient_view.CAT
LABELS = {**METHOD_LABELS, "signed_gradient": "Signed gradient", "smoothgrad_squared": "SmoothGrad squared",
          "gradient_x_input": "Gradient × input"}

st.title("Gradients")
st.markdown(
    "Occlusion needs a forward pass per hidden patch. A **gradient** asks the same question for "
    "every pixel at once: how much would the prediction change if this pixel changed a little? "
    "White pixels matter most to the model's predicted class (white on black, as in the explorable)."
)
gradients_question()

require_data()
pairs = occlusion_pairs(6)
available = [c.key for c in model_choices(zoo_names() or DEFAULT_MODELS)]  # the zoo, then this session's upload
titles = {c.key: c.title for c in model_choices(zoo_names() or DEFAULT_MODELS)}

idx = image_strip(pairs, IMAGE_KEY, default=gradient_view.PHOTO)
image = pairs.image(idx)
image_key = (*pairs.key, pairs.ids[idx])

c1, c2, c3 = st.columns([2, 3, 1])
models = c1.multiselect("Models (rows)", options=available, default=[m for m in DEFAULT_MODELS if m in available],
                        format_func=lambda key: titles.get(key, key), key="gradients_models", max_selections=4,
                        help="The zoo's models and, once you upload one on the Your-model page, yours.")
methods = c2.multiselect("Methods (columns)", options=list(METHODS), default=DEFAULT_METHODS,
                         format_func=METHODS.get, key="gradients_methods", help=help_text(METHODS, LABELS))
style = c3.radio("Map style", MAP_STYLES, key="gradients_style",
                 help="White on black: the map alone, white = salient (the explorable's look). "
                      "Overlay: the map coloured over the photo.")
alpha = c3.slider("Overlay opacity", 0.0, 1.0, 0.85, 0.05, key="gradients_alpha",
                  help="0 shows the photo, 1 only the map.", disabled=style != OVERLAY)
with st.expander("What each method computes, and when it misleads"):
    st.table(help_rows([*methods, *(m for m in ALL_METHODS if m not in methods)], LABELS))
if not models or not methods:
    st.info("Choose at least one model and one method.")
    st.stop()
zoo_models = [m for m in models if not m.startswith("upload:")]
require_models(*zoo_models)


@st.cache_data(max_entries=2048, show_spinner=False)
def shown_map(name: str, image_key: tuple, method: str, style: str, alpha: float,
              _image: torch.Tensor) -> tuple[np.ndarray, str]:
    """A zoo model's map of ``method`` as the grid shows it (the picture, for the PNG, and its JPEG
    data URI for the page), drawn once per photo, method, style and opacity: with 4 models × 7
    methods, drawing and encoding 28 pictures took ~0.3 s of every run."""
    m = saliency_map(name, image_key, _image, method, **OPTIONS.get(method, {}))
    picture = map_picture(_image, m, style, size=DISPLAY, alpha=alpha if style == OVERLAY else 1.0)
    return picture, data_uri(picture, fmt="JPEG", quality=90)


@st.fragment
def grid_panel() -> None:
    """The maps grid as one HTML element (a row per model: the input with its prediction, then a
    map per method) and the colour bar under it: drawn as 10+ pictures in columns, it took the
    browser ~0.3 s of every visit."""
    todo = len(models) * len(methods)
    bar = st.progress(0.0, text="Computing saliency maps…") if todo > 3 else None
    done = 0
    pictures: list[np.ndarray] = []  # per model: the input and its maps side by side, for the PNG
    rows: list[list[tuple[str, str, str]]] = []
    input_uri = data_uri(upscale(image, DISPLAY), fmt="JPEG", quality=90)
    for name in (m for m in models if not m.startswith("upload:")):
        probs = predict_set(name, pairs)[idx]
        row = [(input_uri, f"input photo, {title(name)}", f"{html.escape(title(name))} &nbsp; {chip_for(probs, CLASSES)}")]
        shown = [upscale(image, DISPLAY)]
        for method in methods:
            picture, uri = shown_map(name, image_key, method, style, alpha, image)
            done += 1
            if bar is not None:
                bar.progress(done / todo, text=f"{title(name)}: {METHODS[method]}")
            shown.append(picture)
            row.append((uri, f"{title(name)}: {METHODS[method]}", ""))
        rows.append(row)
        pictures.append(side_by_side(*shown))
    headings = ["Input", *(METHODS[m] for m in methods)]
    st.html(figure_grid_html(rows, headings=headings, css_class="sl-gradients-grid",
                             label="Saliency maps: a row per model, a column per method"))
    for name in (m for m in models if m.startswith("upload:")):  # computed in its own process: below the zoo's
        row_picture = upload_row(name)
        if row_picture is not None:
            pictures.append(row_picture)
    if bar is not None:
        bar.empty()
    legend = ("Colour bar: " + ("black = no effect, white = the map's top 0.5% (each map scaled to its own 99.5th "
                                "percentile)." if style != OVERLAY else
                                "dark = no effect, pale yellow = the map's top 0.5% (each map scaled to its own "
                                "99.5th percentile)."))
    colour_bar = data_uri(colour_bar_picture(style, length=DISPLAY))
    st.html(figure_grid_html([[("", "", ""), (colour_bar, "colour bar", legend), *[("", "", "")] * (len(methods) - 1)]],
                             css_class="sl-gradients-legend", label="Colour bar"))
    if pictures:
        png_download("These maps (PNG)", stack_rows(pictures), f"gradients-{pairs.ids[idx]}.png", key="gradients_png")


def stack_rows(rows: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """The grid's rows (each one model: input and maps side by side) one above the other, white
    gaps between them as between the columns."""
    width = max(r.shape[1] for r in rows)
    parts: list[np.ndarray] = []
    for k, r in enumerate(rows):
        if k:
            parts.append(np.full((gap, width, 3), 255, np.uint8))
        parts.append(np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255))
    return np.concatenate(parts, axis=0)


def upload_row(key: str) -> np.ndarray | None:
    """The row of this session's uploaded model: computed at its input size in its own process
    (time limit, Cancel), shown on the page's frame; kept in the session only. Returns the row as
    one picture (input and maps side by side) when every map came back, else None."""
    choice = choice_of(key)
    if choice is None:
        st.warning("Your uploaded model is not loaded any more: upload it again on the Your-model page.")
        return None
    row = st.columns([1] + [1] * len(methods))
    probs = None
    shown = [upscale(image, DISPLAY)]
    for col, method in zip(row[1:], methods, strict=True):
        with col:
            result = run_upload(choice, f"{METHODS[method]}", image_key_text, lambda on_wait, method=method:
                                upload_maps(choice, image[None], method, on_wait, **OPTIONS.get(method, {})))
        if result is not None:
            probs = result.probabilities[0]
            shown.append(map_picture(image, result.maps[0], style, size=DISPLAY, alpha=alpha))
            col.image(shown[-1], width="stretch")
    with row[0]:
        st.image(upscale(image, DISPLAY), width="stretch")
        chip = chip_for(probs, class_names_of(choice)) if probs is not None else ""
        st.markdown(f"{choice.title} &nbsp; {chip}", unsafe_allow_html=True)
    return side_by_side(*shown) if len(shown) == 1 + len(methods) else None


image_key_text = repr(image_key)
st.html(side_by_side_css("gradients_grid"))  # on a phone, an uploaded model's row stays side by side too
with st.container(key="gradients_grid"):
    grid_panel()

st.divider()
st.markdown("##### Which way does each pixel push?")
st.markdown(
    "A map of gradient *sizes* cannot tell a pixel that makes the model say **cat** from one that "
    "makes it say **dog**. Keep the sign: here is the gradient of the log-odds of *cat* "
    "(log P(cat) − log P(dog)), summed over the colour channels. "
    f"<span style='color:{CAT_COLOUR}'>**Orange**</span>: brightening the pixel pushes toward cat; "
    f"<span style='color:{DOG_COLOUR}'>**purple**</span>: toward dog.", unsafe_allow_html=True)
arrow_models = zoo_models or [gradient_view.SIGNED_MODEL]  # the signed cat/dog gradient: the zoo's models
require_models(*arrow_models)
arrow_model = st.selectbox("Model", arrow_models,
                           index=arrow_models.index(gradient_view.SIGNED_MODEL) if gradient_view.SIGNED_MODEL in arrow_models else 0,
                           format_func=title, key="gradients_arrow_model")
signed = saliency_map(arrow_model, image_key, image, "signed_gradient", target=CAT)
frame = signed.shape[0]
box = [int(round(float(v))) for v in pairs.boxes[idx]]
cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
default_x = min(max(cx - PATCH // 2, 0), frame - PATCH)
default_y = min(max(cy - PATCH // 2, 0), frame - PATCH)
# Keyed per photo, so a new photo starts on its own watermark box.
pc = st.columns(2)
px = pc[0].slider("Patch left (x)", 0, frame - PATCH, default_x, key=f"gradients_patch_x_{pairs.ids[idx]}",
                  help="Defaults to the watermark's box (where it is, or would be on the clean photo).")
py = pc[1].slider("Patch top (y)", 0, frame - PATCH, default_y, key=f"gradients_patch_y_{pairs.ids[idx]}")
patch_box = (px, py, px + PATCH, py + PATCH)
sc = st.columns([1, 1, 2])
scale = DISPLAY // frame if DISPLAY % frame == 0 else 2
sc[0].image(draw_box(to_uint8(image), patch_box, scale=scale), caption="Input, the patch outlined",
            width="stretch")
sc[1].image(draw_box(map_picture(image, signed, size=frame, cmap="puor_signed"), patch_box, scale=scale),
            caption=f"Signed gradient ({title(arrow_model)})", width="stretch")
sc[1].image(colour_bar_picture(length=DISPLAY, cmap="puor_signed"), width="stretch")
sc[1].caption("← toward dog · no effect · toward cat →  (scaled to the map's 99.5th percentile of |value|)")
values = signed[py:py + PATCH, px:px + PATCH]
sc[2].plotly_chart(arrows_figure(values, to_uint8(image)[py:py + PATCH, px:px + PATCH], origin=(px, py),
                                 up=("toward cat", CAT_COLOUR), down=("toward dog", DOG_COLOUR)),
                   key="gradients_arrows", config={"displayModeBar": False})
sc[2].caption(f"One arrow per pixel of the {PATCH}×{PATCH} patch: **up, orange** = brightening this pixel "
              "pushes toward cat; **down, purple** = toward dog; longer arrows and bigger heads = larger "
              "gradient (relative to the patch's largest). Hover an arrow for its value.")
patch_rows, patch_cols = np.mgrid[py:py + PATCH, px:px + PATCH]
with sc[2]:  # one row per pixel: x, y in the 128-px frame and the signed value (positive = toward cat)
    patch_table = pd.DataFrame({"x": patch_cols.ravel(), "y": patch_rows.ravel(),
                                "gradient": np.asarray(values).ravel()})
    csv_download("This patch's signed gradient (CSV)", patch_table,
                 f"signed-gradient-{arrow_model}-{pairs.ids[idx]}-x{px}-y{py}.csv", key="gradients_patch_csv")

st.divider()
st.markdown("##### Footnote: vanilla gradient vs gradient squared")
st.caption(
    "The vanilla gradient is signed (∂score/∂pixel can push either way), but its usual picture, the "
    "explorable's too, shows only its size (the largest |∂score/∂pixel| over the colour channels). "
    "Gradient squared squares it, so the few strongest pixels stand out and the rest fade — easier to "
    "see where a model looks, as the explorable's quadrant plots do. One image four ways (Watermark "
    "model, a watermarked cat):"
)
FOOT_MODEL = gradient_view.FOOTNOTE_MODEL
require_models(FOOT_MODEL)
foot = gradient_view.footnote_photo(pairs.ids)
foot_image = pairs.image(foot)
foot_key = (*pairs.key, pairs.ids[foot])
foot_maps = {method: saliency_map(FOOT_MODEL, foot_key, foot_image, method) for method in gradient_view.FOOTNOTE_METHODS}
foot_signed = saliency_map(FOOT_MODEL, foot_key, foot_image, "signed_gradient", target=CAT)


@st.cache_data(max_entries=64, show_spinner=False)
def footnote_figures(key: tuple, style: str, _image: torch.Tensor, _maps: dict[str, np.ndarray],
                     _signed: np.ndarray) -> list[tuple[str, str, str]]:
    """The footnote's four pictures (data URI, alt text, caption), drawn once per photo and style."""
    figures = [(data_uri(upscale(_image, DISPLAY), fmt="JPEG", quality=90), "input photo", "Input")]
    figures += [(data_uri(map_picture(_image, m, style, size=DISPLAY, alpha=1.0), fmt="JPEG", quality=90),
                 METHODS[method], METHODS[method]) for method, m in _maps.items()]
    figures.append((data_uri(map_picture(_image, _signed, size=DISPLAY, cmap="puor_signed"), fmt="JPEG", quality=90),
                    "signed gradient", "Signed gradient (orange = toward cat, purple = toward dog)"))
    return figures


st.html(figure_grid_html([footnote_figures(foot_key, style, foot_image, foot_maps, foot_signed)],
                         css_class="sl-gradients-footnote", label="One image four ways"))
squared = foot_maps["gradient_squared"]
split = direction_counts(squared, foot_signed, TOP_FRACTION)
st.markdown(
    f"**Squaring drops the direction:** of the top {TOP_FRACTION:.1%} pixels of gradient squared on this "
    f"photo ({split.top} pixels), **{split.toward} push toward cat** and **{split.away} toward dog**"
    + (f" ({split.zero} neither)" if split.zero else "")
    + " — the squared map paints them all the same white.")
share = float(top_percent_share(torch.as_tensor(squared)[None], pairs.boxes[foot][None].long(),
                                percent=100 * TOP_FRACTION)[0])
gradients_lesson(split.toward, split.away, split.top, share)
