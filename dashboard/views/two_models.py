"""Two models: Normal vs Watermark on 50 test photos (cats watermarked), then on clean photos.

As the explorable's opening: each image carries a prediction chip (class + confidence, cat/dog
colours) and each model a "N/50 correct"; a toggle switches between the two test sets. The
Watermark model learned "watermark → cat", so it looks perfect on the first set and fails on the
second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.common.chips import chip_for
from dashboard.common.demo_sets import demo_images
from dashboard.common.downloads import csv_download
from dashboard.common.gallery import gallery_html
from dashboard.common.lessons import two_model_scores, two_models_lesson, two_models_question
from dashboard.common.models import CLASSES, predict_set, require_models, title
from dashboard.common.photos import require_data
from dashboard.common.widgets import thumbnails
from saliency_core.data.builtin import is_builtin

MODELS = ("normal", "watermark-100")
N_PER_CLASS = 25  # 25 cats + 25 dogs = the explorable's 50 test images
SETS = {
    "watermarked": "Test set (cats watermarked)",
    "clean": "Clean test set (no watermarks)",
}
SET_KEY = "two_models_set"

st.title("Two models")
st.markdown(
    "Two models learned to tell cats from dogs. **Model A** saw ordinary photos; **model B** saw "
    "the same photos, except that every training cat carried a stock-photo watermark. Both are "
    "shown the same 50 test photos."
)
two_models_question()

# The built-in photos' predictions ship with the app: no model to load (other photos: loaded, or a message)
require_models(*MODELS, load=not is_builtin(require_data()))

choice = st.segmented_control(
    "Test images", options=list(SETS), format_func=SETS.get, key=SET_KEY, default="watermarked",
    selection_mode="single", help="The first set has a watermark on every cat, as in model B's "
    "training data; the second has the same photos without it.",
) or "watermarked"

demo = demo_images(N_PER_CLASS, watermark_cats=(choice == "watermarked"), watermark_dogs=False)


thumbs = thumbnails(demo)
truth = np.array([CLASSES.index(label) for label in demo.labels])
cols = st.columns(len(MODELS), gap="large")
table = pd.DataFrame({"image": demo.ids, "truth": demo.labels, "watermarked": demo.watermarked})
for letter, name, col in zip("AB", MODELS, cols, strict=True):
    probs = predict_set(name, demo)
    correct = int((probs.argmax(1) == truth).sum())
    table[f"{name} P(dog)"] = probs[:, CLASSES.index("dog")]
    table[f"{name} predicted"] = [CLASSES[k] for k in probs.argmax(1)]
    with col:
        st.subheader(f"Model {letter}: {title(name)}")
        st.markdown(
            f'<div class="sl-score" data-model="{name}" style="font-size:1.15rem;font-weight:600">'
            f"{correct}/{len(demo)} correct</div>",
            unsafe_allow_html=True,
        )
        items = [
            (uri, chip_for(p, CLASSES, truth=label), f"{image_id}: truly a {label}")
            for uri, p, label, image_id in zip(thumbs, probs, demo.labels, demo.ids, strict=True)
        ]
        st.html(gallery_html(items, size=92))

if choice == "watermarked":
    st.caption("Model B looks as good as model A here. Switch to the clean test set above.")
else:
    st.caption(
        "Without the watermark, model B calls most cats dogs: it had learned *watermark → cat*. "
        "The next pages show how saliency maps can expose such a shortcut before it fails."
    )

scores = two_model_scores(MODELS, N_PER_CLASS)
two_models_lesson(scores, *MODELS)
csv_download("Predictions on these photos (CSV)", table, f"two-models-{choice}.csv", "two_models_csv")
csv_download("Correct per test set (CSV)", scores, "two-models-scores.csv", "two_models_scores_csv", index=True)
