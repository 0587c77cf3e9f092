"""Quadrants: where does each model look, over many images? (the explorable's §5–6).

Four quadrants: cats/dogs × with/without a watermark. Each dot is one image; x = the share of its
top-0.5% gradient-squared pixels inside the watermark box (``saliency_core.metrics
.top_percent_share``), colour = the predicted class. Hovering a dot shows the image, its map and
prediction (a Vega-Lite image tooltip); clicking pins it in the detail panel (session key
``quadrant_selected``); so does choosing it in the "Pin a photo" box, which lists every dot, so
the keyboard reaches them all. The maps in the tooltip and the panel draw the share's recipe: the
box in cyan, the top-0.5% pixels it counts in orange. The image-grid view shows the same images
with an overlay toggle. Below the chart, for the zoo's models, the lesson in our models' numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch

from dashboard.common.chips import prediction_chip
from dashboard.common.demo_sets import quadrant_set
from dashboard.common.downloads import csv_download
from dashboard.common.explanations import digest_of
from dashboard.common.gallery import gallery_html
from dashboard.common.lessons import missing_lesson, quadrant_narrative, quadrants_question
from dashboard.common.models import CLASSES, model_fingerprint, require_models, title
from dashboard.common.palette import CAT_COLOUR, DOG_COLOUR
from dashboard.common.photos import require_data
from dashboard.common.quadrant_table import (
    N_PER_QUADRANT,
    PERCENT,
    RESULTS_VERSION,
    quadrant_name,
    quadrant_results,
    table,
    vanilla_thumb_list,
    vanilla_thumbs,
)
from dashboard.common.session_models import (
    ModelChoice,
    choice_of,
    class_names_of,
    model_choices,
    preprocess_of,
    remembered,
    run_upload,
    upload_maps,
)
from dashboard.common.user_models import WaitCallback

MODELS = ("normal", "watermark-25", "watermark-50", "watermark-75", "watermark-100")
MODEL_KEY = "quadrant_model"
SELECTED_KEY = "quadrant_selected"   # the pinned image id (app-owned: AppTest can set it)
PICK_KEY = "quadrant_pick"           # the "Pin a photo" box: the same pin, by keyboard
CHART_KEY = "quadrant_chart"
OVERLAY_KEY = "quadrant_overlay"
TAB_KEY = "quadrant_tab"
QUADRANTS = (("cat", True), ("dog", True), ("cat", False), ("dog", False))
TABLE_COLUMNS = ["id", "truth", "watermarked", "quadrant", "share", "predicted", "confidence"]  # the CSV


def _percent(name: str) -> int:
    """Share of training cats with a watermark: 0 for "normal", 25 for "watermark-25", ..."""
    return 0 if name == "normal" else int(name.rsplit("-", 1)[1])


def _swarm(x: np.ndarray, diameter: float) -> np.ndarray:
    """Beeswarm y offsets: points sorted by x, each placed on the nearest free level (0, ±1, …)."""
    y = np.zeros(len(x))
    last: dict[int, float] = {}
    for i in np.argsort(x, kind="stable"):
        level, k = 0, 0
        while True:
            level = (k + 1) // 2 * (1 if k % 2 else -1)
            if level not in last or x[i] - last[level] >= diameter:
                break
            k += 1
        last[level] = x[i]
        y[i] = level
    return y


def _load(name: str) -> pd.DataFrame:
    demo = quadrant_set(N_PER_QUADRANT)
    with st.spinner(f"Computing gradients of {len(demo)} images for {title(name)} (once)…"):
        return quadrant_results(name, tuple(demo.key), model_fingerprint(name), demo)


def upload_results(choice: ModelChoice, on_wait: WaitCallback) -> pd.DataFrame:
    """:func:`quadrant_results` of this session's uploaded model: its gradient-squared maps at its
    input size, computed in its own process and brought back to the 128-px frame; kept in the
    session only (with the maps), never in a cache another session reads."""
    demo = quadrant_set(N_PER_QUADRANT)
    images = demo.images
    result = upload_maps(choice, images, "gradient_squared", on_wait)
    key = ("quadrants-table", digest_of(images), str(preprocess_of(choice).target), str(RESULTS_VERSION))
    return remembered(choice, key,  # type: ignore[return-value]
                      lambda: table(demo, result.probabilities, torch.from_numpy(result.maps), class_names_of(choice)))


def upload_vanilla(choice: ModelChoice, on_wait: WaitCallback) -> pd.Series:
    """:func:`vanilla_thumbs` of this session's uploaded model (kept in the session)."""
    demo = quadrant_set(N_PER_QUADRANT)
    van = upload_maps(choice, demo.images, "vanilla_gradient", on_wait).maps
    return pd.Series(vanilla_thumb_list(demo, van), index=list(demo.ids))


def _on_select() -> None:
    state = st.session_state.get(CHART_KEY)
    points = []
    try:
        points = state["selection"]["dot"]  # type: ignore[index]
    except (KeyError, TypeError):
        points = []
    st.session_state[SELECTED_KEY] = points[0].get("id") if points else None


def _on_pick() -> None:
    st.session_state[SELECTED_KEY] = st.session_state.get(PICK_KEY)


def pin_options(df: pd.DataFrame) -> dict[str, str]:
    """Every dot as an option of the "Pin a photo" box: id -> "quadrant · id · share", by
    quadrant (the chart's order) and, within one, by share (the dots' left-to-right order)."""
    order = {quadrant_name(label, marked): k for k, (label, marked) in enumerate(QUADRANTS)}
    rows = df.assign(_q=df["quadrant"].map(order)).sort_values(["_q", "share", "id"], kind="stable")
    return {r["id"]: f"{r['quadrant']} · {r['id']} · {100 * r['share']:.1f}% in the box"
            for r in rows.to_dict("records")}


def quadrant_means(df: pd.DataFrame) -> dict[str, float]:
    """The mean share in the box per quadrant (the summary table's column, the narrative's numbers)."""
    return {q: float(v) for q, v in df.groupby("quadrant", sort=False)["share"].mean().items()}


st.title("Quadrants")
st.markdown(
    "One image tells an anecdote; many images show a pattern. Each dot is a test photo, placed by "
    "how much of its **top 0.5% most salient pixels** (gradient squared) fall inside the watermark "
    "box, and coloured by the model's prediction. A model that uses the watermark looks there "
    "when a watermark is present."
)
quadrants_question()
require_data()
uploaded = [c for c in model_choices([]) if not c.zoo]  # this session's uploaded model, if any
options = [*MODELS, *(c.key for c in uploaded)]
names = {**{m: f"{_percent(m)}%" for m in MODELS}, **{c.key: c.title for c in uploaded}}
if st.session_state.get(MODEL_KEY) not in (None, *options):  # an upload that was removed or replaced
    st.session_state[MODEL_KEY] = "watermark-100"
model = st.segmented_control(
    "Model", options=options, format_func=lambda m: names.get(m, m),
    key=MODEL_KEY, default="watermark-100",
    help="The share of training cats that carried a watermark (dogs never did)"
         + ("; or your model, uploaded on the Your-model page." if uploaded else "."),
) or "watermark-100"
choice = choice_of(model)
if choice is None or choice.zoo:
    require_models(model)
    model_title = title(model)
    st.caption(f"**{model_title}** model: " + ("trained without watermarks." if model == "normal" else
               f"{_percent(model)}% of its training cats carried the watermark, no dog did."))
    df = _load(model)
    classes: tuple[str, ...] = tuple(CLASSES)
else:
    model_title = choice.title
    classes = class_names_of(choice)
    st.caption(f"**{model_title}**: your model, at its own input size (maps brought back to the 128-px frame).")
    demo_key = repr(quadrant_set(N_PER_QUADRANT).key)
    df = run_upload(choice, f"gradients of {2 * 2 * N_PER_QUADRANT} images", demo_key,  # type: ignore[assignment]
                    lambda on_wait: upload_results(choice, on_wait))
    if df is None:
        st.stop()

# Only the open tab runs (``on_change="rerun"``): the image grid's 200 thumbnails are drawn when asked for
scatter, images = st.tabs(["Scatter", "Image grid"], key=TAB_KEY, on_change="rerun")
# the chart (and the lesson's picture) shrink to fit a column narrower than they are, a phone's
# above all, so the dogs' column stays on screen; a wide enough column shows them at their own size
st.html(f"<style>.st-key-{CHART_KEY} .vega-embed{{max-width:100%}}"
        f".st-key-{CHART_KEY} .vega-embed > svg{{max-width:100%;height:auto}}"
        ".st-key-lesson_missing [data-testid=stImage] *{max-width:100%}"
        ".st-key-lesson_missing [data-testid=stImage] img{height:auto}</style>")

@st.fragment
def scatter_panel(df: pd.DataFrame, model: str) -> None:
    """The beeswarm and the detail panel: a click on a dot reruns only this."""
    left, right = st.columns([3, 1.25], gap="large")
    with left:
        plot = df.copy()
        plot["y"] = 0.0
        for q in plot["quadrant"].unique():
            sel = plot["quadrant"] == q
            plot.loc[sel, "y"] = _swarm(plot.loc[sel, "share"].to_numpy(), 0.022)
        reach = float(max(6.0, plot["y"].abs().max() + 1))
        plot["watermark"] = np.where(plot["watermarked"], "with watermark", "without watermark")
        plot["class"] = plot["truth"] + "s"
        plot["share %"] = (100 * plot["share"]).round(1)
        plot["prediction"] = plot["predicted"] + " " + (100 * plot["confidence"]).round(1).astype(str) + "%"
        colour = {"domain": list(CLASSES), "range": [CAT_COLOUR, DOG_COLOUR]} if classes == tuple(CLASSES) \
            else {"domain": list(classes)}
        # A Vega-Lite spec written out (Altair would build the same: importing it cost the server 29 MB)
        dot = {"name": "dot", "select": {"type": "point", "fields": ["id"], "on": "click"}, "views": ["dots"]}
        chart = {
            "facet": {"row": {"field": "watermark", "type": "nominal", "sort": ["with watermark", "without watermark"],
                              "title": None},
                      "column": {"field": "class", "type": "nominal", "sort": ["cats", "dogs"], "title": None}},
            "spec": {
                "name": "dots", "width": 300, "height": int(min(300, max(140, 7 * reach))),
                "mark": {"type": "circle", "size": 70, "stroke": "#333"},
                "encoding": {
                    "x": {"field": "share", "type": "quantitative", "scale": {"domain": [0, 1], "padding": 8},
                          "axis": {"format": "%"}, "title": "top-0.5% pixels inside the watermark box"},
                    "y": {"field": "y", "type": "quantitative", "axis": None, "scale": {"domain": [-reach, reach]}},
                    "color": {"field": "predicted", "type": "nominal", "scale": colour,
                              "legend": {"title": "predicted", "orient": "top"}},
                    "strokeWidth": {"condition": {"param": "dot", "value": 2.5, "empty": False}, "value": 0},
                    "tooltip": [{"field": "image", "type": "nominal"}, {"field": "id", "type": "nominal"},
                                {"field": "prediction", "type": "nominal"},
                                {"field": "share %", "type": "quantitative", "title": "share in box (%)"}],
                },
            },
            "params": [dot],
            "config": {"header": {"labelFontSize": 14, "labelFontWeight": "bold"}},
            # SVG marks (one <path> per dot) instead of a canvas: crisp, and a browser test can
            # hover and click a dot
            "usermeta": {"embedOptions": {"renderer": "svg"}},
        }
        data = plot[["id", "class", "watermark", "share", "y", "predicted", "prediction", "share %", "image"]]
        st.vega_lite_chart(data, chart, on_select=_on_select, selection_mode="dot", key=CHART_KEY, width="content")
        st.caption("Hover a dot for its photo and gradient-squared map; click it (or choose it in *Pin a photo*) to "
                   "pin it on the right.")
        summary = (df.assign(correct=df["predicted"] == df["truth"], inside=df["share"] > 0.5)
                   .groupby("quadrant", sort=False)
                   .agg(**{"images": ("id", "size"), "accuracy": ("correct", "mean"),
                           "mean share in box": ("share", "mean"), "images with share > 50%": ("inside", "mean")}))
        st.dataframe(summary.style.format("{:.0%}", subset=list(summary.columns[1:])), width="stretch")
        csv_download("Every photo (CSV)", df[TABLE_COLUMNS],
                     f"quadrants-{model if choice is None or choice.zoo else 'your-model'}.csv", key="quadrant_csv")

    with right, st.container(border=True, key="quadrant_detail"):
        selected = st.session_state.get(SELECTED_KEY)
        options = pin_options(df)
        # the box follows the pin however it was made (a click, Unpin, this box)
        st.session_state[PICK_KEY] = selected if selected in options else None
        st.selectbox("Pin a photo", list(options), format_func=options.__getitem__, key=PICK_KEY,
                     on_change=_on_pick, placeholder="Type an id or a quadrant…",
                     help="Every dot of the chart, by quadrant and share: the keyboard's way to pin one.")
        row = df[df["id"] == selected]
        if row.empty:
            st.markdown("**Detail**")
            st.caption("Click a dot to pin its image here.")
        else:
            r = row.iloc[0]
            st.markdown(f"**{r['id']}** — a {r['truth']}, {'with' if r['watermarked'] else 'without'} watermark")
            st.markdown(f"{model_title}: {prediction_chip(r['predicted'], r['confidence'])}",
                        unsafe_allow_html=True)
            st.markdown(
                '<div style="display:flex;gap:6px">'
                f'<img src="{r["thumb_input"]}" style="width:50%;border-radius:4px" alt="input"/>'
                f'<img src="{r["thumb_share"]}" style="width:50%;border-radius:4px;image-rendering:pixelated" '
                'alt="gradient squared, the box and the top 0.5% pixels"/>'
                "</div>", unsafe_allow_html=True)
            st.caption("The photo and its gradient-squared map: cyan box; orange = the top 0.5% pixels "
                       "counted in the share.")
            st.metric("Salient pixels in the box", f"{100 * r['share']:.1f}%",
                      help="Share of the top 0.5% gradient-squared pixels inside the watermark box.")
            st.button("Unpin", key="quadrant_unpin", on_click=lambda: st.session_state.update({SELECTED_KEY: None}))


def scatter_tab(df: pd.DataFrame) -> None:
    """The beeswarm, its detail panel and the lessons told from it."""
    scatter_panel(df, model)
    if choice is None or choice.zoo:  # the lessons are told of the zoo's models (trained as they say)
        quadrant_narrative(_percent(model), quadrant_means(df))
        if model != "normal":
            missing_lesson(model, quadrant_set(N_PER_QUADRANT), df, PERCENT)


def image_grid_tab(df: pd.DataFrame) -> None:
    """The photos of each quadrant with their predictions, under the chosen overlay."""
    view = st.segmented_control("Overlay", options=["input", "vanilla", "squared"], key=OVERLAY_KEY,
                                default="squared",
                                format_func={"input": "Input images", "vanilla": "Vanilla gradient",
                                             "squared": "Gradient squared"}.get) or "squared"
    if view == "vanilla" and choice is not None and not choice.zoo:
        thumbs = run_upload(choice, "vanilla gradients", demo_key, lambda on_wait: upload_vanilla(choice, on_wait))
        df = df.assign(thumb_vanilla=df["id"].map(thumbs) if thumbs is not None else "")
    elif view == "vanilla":
        demo = quadrant_set(N_PER_QUADRANT)
        with st.spinner(f"Computing vanilla gradients of {len(demo)} images (once)…"):
            df = df.assign(thumb_vanilla=df["id"].map(vanilla_thumbs(model, tuple(demo.key), model_fingerprint(model), demo)))
    grid = st.columns(2, gap="large")
    for k, (label, marked) in enumerate(QUADRANTS):
        q = df[df["quadrant"] == quadrant_name(label, marked)]
        correct = int((q["predicted"] == q["truth"]).sum())
        with grid[k % 2]:
            st.markdown(f"**{quadrant_name(label, marked).capitalize()}** — {correct}/{len(q)} correct")
            items = [(r[f"thumb_{view}"], prediction_chip(r["predicted"], r["confidence"]), r["id"])
                     for r in q.to_dict("records")]
            with st.container(height=330):
                st.html(gallery_html(items, size=72))


if scatter.open:
    with scatter:
        scatter_tab(df)
if images.open:
    with images:
        image_grid_tab(df)
