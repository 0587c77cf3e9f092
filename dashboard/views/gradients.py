"""Gradients: saliency maps of several methods and models side by side (the explorable's §4).

Rows are models, columns the input and each chosen method; an opacity slider blends the maps over
the photo. A footnote shows one image three ways (input, vanilla gradient, gradient squared).
"""

from __future__ import annotations

import streamlit as st

from dashboard.common.chips import chip_for
from dashboard.common.demo_sets import occlusion_pairs
from dashboard.common.explanations import saliency_map
from dashboard.common.models import CLASSES, METHOD_LABELS, predict_set, require_models, title, zoo_names
from dashboard.common.photos import require_data
from dashboard.common.render import overlay, upscale
from dashboard.common.widgets import image_strip

METHODS: dict[str, str] = {k: v for k, v in METHOD_LABELS.items() if k != "occlusion"}
# Fewer samples/steps than the library defaults keep a first view quick on a small CPU; seeded.
OPTIONS: dict[str, dict[str, object]] = {
    "smoothgrad": {"samples": 24, "seed": 0},
    "integrated_gradients": {"steps": 32},
}
DEFAULT_MODELS = ["normal", "watermark-100"]
DEFAULT_METHODS = ["vanilla_gradient", "gradient_squared", "grad_cam"]
IMAGE_KEY = "gradients_image"
DISPLAY = 256

st.title("Gradients")
st.markdown(
    "Occlusion needs a forward pass per hidden patch. A **gradient** asks the same question for "
    "every pixel at once: how much would the prediction change if this pixel changed a little? "
    "Bright pixels matter most to the model's predicted class."
)

require_data()
pairs = occlusion_pairs(6)
available = zoo_names() or DEFAULT_MODELS

idx, _ = image_strip(pairs, IMAGE_KEY, default=1)
image = pairs.images[idx]
image_key = (*pairs.key, pairs.ids[idx])

c1, c2, c3 = st.columns([2, 3, 1])
models = c1.multiselect("Models (rows)", options=available, default=[m for m in DEFAULT_MODELS if m in available],
                        format_func=title, key="gradients_models", max_selections=4)
methods = c2.multiselect("Methods (columns)", options=list(METHODS), default=DEFAULT_METHODS,
                         format_func=METHODS.get, key="gradients_methods")
alpha = c3.slider("Overlay opacity", 0.0, 1.0, 0.85, 0.05, key="gradients_alpha",
                  help="0 shows the photo, 1 only the map.")
if not models or not methods:
    st.info("Choose at least one model and one method.")
    st.stop()
require_models(*models)


@st.fragment
def grid_panel() -> None:
    header = st.columns([1] + [1] * len(methods))
    header[0].markdown("**Input**")
    for col, method in zip(header[1:], methods, strict=True):
        col.markdown(f"**{METHODS[method]}**")
    todo = len(models) * len(methods)
    bar = st.progress(0.0, text="Computing saliency maps…") if todo > 3 else None
    done = 0
    for name in models:
        probs = predict_set(name, pairs)[idx]
        row = st.columns([1] + [1] * len(methods))
        with row[0]:
            st.image(upscale(image, DISPLAY), width="stretch")
            st.markdown(f"{title(name)} &nbsp; {chip_for(probs, CLASSES)}", unsafe_allow_html=True)
        for col, method in zip(row[1:], methods, strict=True):
            m = saliency_map(name, image_key, image, method, **OPTIONS.get(method, {}))
            done += 1
            if bar is not None:
                bar.progress(done / todo, text=f"{title(name)}: {METHODS[method]}")
            col.image(overlay(upscale(image, DISPLAY), m, alpha=alpha), width="stretch")
    if bar is not None:
        bar.empty()


grid_panel()

st.divider()
st.markdown("##### Footnote: vanilla gradient vs gradient squared")
st.caption(
    "The vanilla gradient keeps only the size of each pixel's gradient (|∂score/∂pixel|); gradient "
    "squared squares it, so the few strongest pixels stand out and the rest fade — easier to see "
    "where a model looks, as the explorable's quadrant plots do. One image, three ways "
    "(Watermark model, a watermarked cat):"
)
require_models("watermark-100")
foot = pairs.ids.index(next(i for i in pairs.ids if i.endswith("_wm")))
foot_image = pairs.images[foot]
foot_key = (*pairs.key, pairs.ids[foot])
fc = st.columns(3)
fc[0].image(upscale(foot_image, DISPLAY), caption="Input", width=DISPLAY)
for col, method in zip(fc[1:], ("vanilla_gradient", "gradient_squared"), strict=True):
    m = saliency_map("watermark-100", foot_key, foot_image, method)
    col.image(overlay(upscale(foot_image, DISPLAY), m, alpha=1.0), caption=METHODS[method], width=DISPLAY)
