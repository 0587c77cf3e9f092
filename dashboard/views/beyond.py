"""Beyond simple saliency: the explorable's closing section, run live where the library can.

Three tests from the literature, each on at most 8 built-in photos with the zoo's models, cached
per server (``st.cache_data``) and on disk (``diskcache``: shipped for the built-in photos):

* the model-randomisation sanity check (``saliency_core.metrics.sanity_checks``, Adebayo et al.
  2018): scramble the normal model's layers from the top down and see whether its vanilla-gradient
  maps change;
* K-SSD, CCM and FAM (``saliency_core.metrics.kssd_fam``, Adebayo et al. 2022): does the watermark
  model's map show the watermark, and can its maps be told apart from the normal model's?
* counterfactual flips (``saliency_core.metrics.counterfactual``): change the colours and count
  how many predictions change.

Then the families of explanations the essay points to beyond pixel saliency, in our words.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import torch

import saliency_core
from dashboard.common.demo_sets import DemoSet, demo_images
from dashboard.common.diskcache import cached_arrays, cached_frame
from dashboard.common.downloads import csv_download
from dashboard.common.locks import explain_locked, lock_of
from dashboard.common.messages import ZOO_HELP
from dashboard.common.models import CLASSES, load_zoo_model, model_fingerprint, title, zoo_or_none
from dashboard.common.photos import require_data
from saliency_core.metrics import ccm, fam, flip_rates, kssd
from saliency_core.metrics.sanity_checks import cascading_randomisation, spaced_layers
from saliency_core.metrics.transforms import greyscale, hue_shift

METHOD = "vanilla_gradient"
N_PER_CLASS = 4  # photos per class in each set: 8 watermarked + the same 8 clean = 16 images in all
SANITY_IDX = [0, 1, N_PER_CLASS, N_PER_CLASS + 1]  # two cats, two dogs of the clean set
SIMILARITIES = ("spearman", "spearman_abs", "ssim", "hog")
CHARTED = ("spearman", "ssim", "hog")  # spearman_abs equals spearman for unsigned maps
FLIP_MODELS = ("normal", "colours")
NEEDED = ("normal", "watermark-100", *FLIP_MODELS)


SANITY_STEPS = 12  # maps compared at this many steps of the cascade (EfficientNet has ~100 layers)


def sanity_images(clean: DemoSet) -> torch.Tensor:
    """The four clean photos the sanity check runs on (the test repeats this choice)."""
    return clean.images_at(list(SANITY_IDX))


def explain_vanilla(model: torch.nn.Module, images: torch.Tensor) -> Any:
    """The ``explain`` the sanity check calls: vanilla gradient of the predicted class."""
    return saliency_core.explain(model, images, METHOD)


def sanity_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean similarity per randomisation step (over the images): step, layer and the four scores."""
    return (table.groupby(["step", "layer"], sort=False)[list(SIMILARITIES)].mean().reset_index()
            .sort_values("step", kind="stable").reset_index(drop=True))


@st.cache_data(show_spinner="Scrambling the normal model layer by layer…", max_entries=4)
def sanity_table(fingerprint: str, key: tuple[Any, ...], _images: torch.Tensor) -> pd.DataFrame:
    """Cascading randomisation of the normal model (a private copy: the shared one is untouched)."""
    def build() -> pd.DataFrame:
        model = load_zoo_model("normal")
        with lock_of(model):
            private = copy.deepcopy(model)
        return cascading_randomisation(private, _images, explain_vanilla,
                                       measure_at=spaced_layers(private, SANITY_STEPS))

    return cached_frame("sanity", (fingerprint, key, METHOD, SANITY_STEPS), build)


def _maps(name: str, images: torch.Tensor) -> torch.Tensor:
    return explain_locked(load_zoo_model(name), images, METHOD).maps.detach().float().cpu()


@st.cache_data(show_spinner="Comparing the normal and the watermark model's maps…", max_entries=4)
def spurious_scores(fingerprints: tuple[str, str], key: tuple[Any, ...], _marked: DemoSet,
                    _clean: DemoSet) -> dict[str, np.ndarray]:
    """Per-image K-SSD (watermark model, watermarked photos vs the watermark's pixels), CCM (normal
    vs watermark model on watermarked photos) and FAM (the same on clean photos)."""
    def build() -> dict[str, np.ndarray]:
        marked, clean = _marked.images, _clean.images
        spu_marked, norm_marked = _maps("watermark-100", marked), _maps("normal", marked)
        spu_clean, norm_clean = _maps("watermark-100", clean), _maps("normal", clean)
        return {
            "kssd": np.asarray(kssd(spu_marked, _marked.masks)),
            "ccm": np.asarray(ccm(norm_marked, spu_marked)),
            "fam": np.asarray(fam(norm_clean, spu_clean)),
        }

    return cached_arrays("spurious", (fingerprints, key, METHOD), build)


def hue_180(images: torch.Tensor) -> torch.Tensor:
    return hue_shift(images, 180.0)


TRANSFORMS = {"greyscale": greyscale, "hue shifted 180°": hue_180}


@st.cache_data(show_spinner="Changing the colours and re-predicting…", max_entries=4)
def flip_table(fingerprints: tuple[str, ...], key: tuple[Any, ...], _clean: DemoSet) -> pd.DataFrame:
    """Flip rates per model, transform and true class on the clean photos."""
    def build() -> pd.DataFrame:
        labels = torch.tensor([CLASSES.index(label) for label in _clean.labels])
        tables, images = [], _clean.images
        for name in FLIP_MODELS:
            model = load_zoo_model(name)
            for transform_name, transform in TRANSFORMS.items():
                with lock_of(model):
                    table = flip_rates(model, images, labels, transform, class_names=list(CLASSES))
                tables.append(table.assign(model=title(name), transform=transform_name))
        frame = pd.concat(tables, ignore_index=True)
        return frame[["model", "transform", "class", "n", "flips", "rate", "ci_low", "ci_high"]]

    return cached_frame("flips", (fingerprints, key, FLIP_MODELS, tuple(TRANSFORMS)), build)


# --------------------------------------------------------------------------------- the page
st.title("Beyond simple saliency")
st.markdown(
    "The mystery models showed the limit: a map can point at the right place and still hide *what* "
    "the model uses there. Researchers have built tests of the maps themselves, tests that skip the "
    "maps altogether, and other kinds of explanation. This page runs three of them live, on a "
    "handful of the built-in photos, and then surveys the rest."
)

require_data()
if any(zoo_or_none(name) is None for name in NEEDED):
    st.info(ZOO_HELP, icon=":material/model_training:")
    st.stop()

clean = demo_images(N_PER_CLASS, watermark_cats=False, watermark_dogs=False)
marked = demo_images(N_PER_CLASS, watermark_cats=True, watermark_dogs=True)

# ----- 1. the sanity check
st.header("1 · Does the map depend on the model at all?")
st.markdown(
    "**Model-randomisation sanity check** (Adebayo et al. 2018). Replace the normal model's "
    "trained weights with random ones, one layer at a time from the output down, and compare each "
    "new vanilla-gradient map with the original. A map that explains the *model* should drift away "
    "as the model is destroyed; a map that stays similar is mostly showing the *photo*."
)
table = sanity_table(model_fingerprint("normal"), tuple(clean.key) + ("sanity", tuple(SANITY_IDX)),
                     sanity_images(clean))
summary = sanity_summary(table)
long = summary.melt(id_vars=["step", "layer"], value_vars=list(CHARTED), var_name="similarity",
                    value_name="score")
chart = {  # Vega-Lite, written out (Altair would build the same: importing it cost the server 29 MB)
    "mark": {"type": "line", "point": True},
    "height": 280,
    "encoding": {
        "x": {"field": "step", "type": "quantitative", "title": "layers randomised (from the output down)"},
        "y": {"field": "score", "type": "quantitative", "title": "similarity to the original map",
              "scale": {"domain": [-0.2, 1.0]}},
        "color": {"field": "similarity", "type": "nominal", "title": "score"},
        "tooltip": [{"field": "step", "type": "quantitative"}, {"field": "layer", "type": "nominal"},
                    {"field": "similarity", "type": "nominal"},
                    {"field": "score", "type": "quantitative", "format": ".3f"}],
    },
}
st.vega_lite_chart(long, chart, width="stretch")
last = summary.iloc[-1]
st.caption(
    f"Mean over {len(SANITY_IDX)} photos (two cats, two dogs). With every layer randomised, the rank "
    f"correlation (Spearman) with the original map is {last['spearman']:.2f} and the structural "
    f"similarity (SSIM) {last['ssim']:.2f}. What stays above zero once nothing trained is left "
    "comes from the photo and the architecture, not from what the model learned. Scores by "
    "`saliency_core.metrics.sanity_checks.cascading_randomisation`."
)
with st.expander("The numbers, step by step"):
    st.dataframe(summary, hide_index=True, width="stretch", key="beyond_sanity_table",
                 column_config={s: st.column_config.NumberColumn(format="%.3f") for s in SIMILARITIES})
csv_download("Sanity check, per photo and step (CSV)", table, "beyond-sanity-check.csv", "beyond_sanity_csv")

# ----- 2. K-SSD, CCM, FAM
st.header("2 · Would the map have shown a shortcut we did not know about?")
st.markdown(
    "**K-SSD, CCM and FAM** (Adebayo et al. 2022). We know the watermark model's shortcut, so we "
    "can grade its maps against the truth. *K-SSD*: how closely its map on a watermarked photo "
    "matches the watermark's own pixels. *CCM*: how alike the normal and the watermark model's maps "
    "are on watermarked photos (high = the maps hide that the models differ). *FAM*: the same on "
    "clean photos (low = the maps differ even where there is nothing to find, a false alarm). "
    "All three are SSIM scores between 0 and 1 (negative is possible but rare)."
)
scores = spurious_scores((model_fingerprint("normal"), model_fingerprint("watermark-100")),
                         (tuple(marked.key), tuple(clean.key)), marked, clean)
cols = st.columns(3)
cols[0].metric("K-SSD (watermark model)", f"{float(np.mean(scores['kssd'])):.3f}",
               help="SSIM of the watermark model's map to the watermark mask; higher is better")
cols[1].metric("CCM (normal vs watermark)", f"{float(np.mean(scores['ccm'])):.3f}",
               help="SSIM of the two models' maps on watermarked photos; high is a cause for concern")
cols[2].metric("FAM (normal vs watermark)", f"{float(np.mean(scores['fam'])):.3f}",
               help="SSIM of the two models' maps on clean photos; low is a false alarm")
st.caption(f"Means over {len(marked)} watermarked photos and the same {len(clean)} photos without "
           f"the mark ({N_PER_CLASS} cats and {N_PER_CLASS} dogs), {METHOD.replace('_', ' ')} maps.")
csv_download("K-SSD, CCM and FAM per photo (CSV)",
             pd.DataFrame({"photo": [i.removesuffix("_wm") for i in marked.ids], "truth": list(marked.labels),
                           **{name.upper(): np.asarray(values) for name, values in scores.items()}}),
             "beyond-kssd-ccm-fam.csv", "beyond_scores_csv")

# ----- 3. counterfactual flips
st.header("3 · Skip the map: change the photo")
st.markdown(
    "**Counterfactual flips.** A map says *where* a model looks, not *what* it sees there. To test "
    "a suspected shortcut directly, change that one thing and count the predictions that flip. "
    "The colour detector from the mystery page looks innocent in its maps, but turn the photos grey "
    "or rotate their hues and its answers change far more often than the normal model's."
)
flips = flip_table(tuple(model_fingerprint(name) for name in FLIP_MODELS), tuple(clean.key), clean)
rates = flips.groupby(["model", "transform"], sort=False)[["n", "flips"]].sum().reset_index()
rates["flip rate"] = rates["flips"] / rates["n"]
st.dataframe(rates, hide_index=True, width="stretch", key="beyond_flip_rates",
             column_config={"flip rate": st.column_config.ProgressColumn(format="percent", min_value=0,
                                                                         max_value=1)})
with st.expander("Per class, with 95% Wilson intervals"):
    st.dataframe(flips, hide_index=True, width="stretch", key="beyond_flip_table")
csv_download("Flip rates per class (CSV)", flips, "beyond-flip-rates.csv", "beyond_flips_csv")
st.caption(f"On {len(clean)} clean photos only: the intervals are wide. The *Dataset audit* page "
           "runs the same tests on the whole photo set.")

# ----- 4. beyond pixels
st.header("4 · Other kinds of explanation")
st.markdown(
    """
- **Regions instead of pixels.** *XRAI* (Kapishnikov et al. 2019, "XRAI: Better Attributions
  Through Regions") grows attributions over image segments, so the answer is a handful of parts
  of the photo rather than a speckle of pixels.
- **Local surrogate models.** *LIME* (Ribeiro, Singh and Guestrin 2016, "Why Should I Trust You?")
  switches patches of the photo on and off and fits a simple model to the results; *SHAP*
  (Lundberg and Lee 2017, "A Unified Approach to Interpreting Model Predictions") shares the
  prediction out among the patches by Shapley values. Both ask the occlusion question many times
  over.
- **Blame the training data.** *Influence functions* (Koh and Liang 2017, "Understanding Black-box
  Predictions via Influence Functions") estimate which training photos pushed the model toward a
  prediction. A cluster of watermarked cats behind a wrong answer points at the data, not at a
  pixel.
- **Concepts instead of pixels.** *TCAV* (Kim et al. 2018, "Interpretability Beyond Feature
  Attribution: Quantitative Testing with Concept Activation Vectors") asks how much a
  human-named concept, such as "stripes", "brown fur" or "text in the corner", moves the
  prediction, given a few example photos of the concept. It can test *what* a model uses, which is
  exactly where the colour detector escaped the maps.
"""
)
st.caption(
    "None of these is a guarantee: an explanation method finds what it is built to find, so test "
    "for the biases you suspect, and use more than one kind of evidence."
)
