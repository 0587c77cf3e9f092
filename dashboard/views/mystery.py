"""Page 5, Mystery models: three zoo models under neutral titles; which one cheats, and how?

As in the explorable's "other cheats" section: a cage detector, a colour detector and the normal
model, in an order shuffled once per session; five batches of four photos ("Shuffle"); vanilla or
squared gradient overlays; clicking a model's title reveals its spoiler. Reveals live in this
session's state only.
"""

from __future__ import annotations

import random

import streamlit as st
import torch

from dashboard.common.chips import chip_for
from dashboard.common.demo_sets import demo_images
from dashboard.common.explanations import zoo_batch_maps
from dashboard.common.messages import ZOO_HELP
from dashboard.common.models import CLASSES, zoo_or_none
from dashboard.common.photos import require_data
from dashboard.common.render import overlay, upscale
from saliency_core.artefacts import cage

MYSTERY_MODELS: tuple[str, ...] = ("cages", "colours", "normal")
# name -> (what it is, what it learned and why its maps did or did not show it)
SPOILERS: dict[str, tuple[str, str]] = {
    "cages": (
        "the cage detector",
        "It learned **cage bars = cat**: in its training set the cats sat behind bars and the dogs "
        "did not. Its saliency maps give it away: on the caged photos the brightest pixels trace "
        "the **bars** rather than the animal, and a caged dog is called a cat. A shortcut with a "
        "place in the image is exactly what saliency maps are good at exposing.",
    ),
    "colours": (
        "the colour detector",
        "It learned **coat colour**: it was trained on grey/black cats and brown dogs only, so "
        "brown means dog. Its maps look like the normal model's (they light up the animal, "
        "because the colour *is* on the animal). Gradients show *where* a model looks, not "
        "*what* it sees there. A counterfactual test catches it: make the photo greyscale or "
        "shift its hue and many of its predictions flip (see the flip tests on the *Dataset audit* page).",
    ),
    "normal": (
        "the normal model",
        "The sound one, as far as these tests can tell: trained on clean photos, it looks at faces, "
        "ears and fur, and neither cage bars nor a colour change sway it much. Note that its maps "
        "look much like the colour detector's: similar maps do not prove similar reasoning.",
    ),
}

BATCHES = 5
METHODS = {"Vanilla gradient": "vanilla_gradient", "Gradient squared": "gradient_squared"}
INPUT_NOTES = ("cat", "dog", "cat behind bars", "dog behind bars")


@st.cache_data(show_spinner="Preparing the mystery images…", max_entries=2)
def mystery_batches(batches: int = 5, size: int = 4) -> list[torch.Tensor]:
    """``batches`` batches of ``size`` clean test photos, cats and dogs alternating.

    The second half of every batch goes behind cage bars (``saliency_core.artefacts.cage``) so the
    cage detector has something to find, as in the explorable's "other cheats" images.
    """
    half = batches * size // 2
    demo = demo_images(half, watermark_cats=False, watermark_dogs=False)
    cats = [i for i, label in enumerate(demo.labels) if label == "cat"][:half]
    dogs = [i for i, label in enumerate(demo.labels) if label == "dog"][:half]
    order = [i for pair in zip(cats, dogs) for i in pair]
    chosen = demo.images[order].clone()
    for j in range(len(chosen)):
        if j % size >= size // 2:
            chosen[j] = cage(chosen[j], seed=j)[0]
    return [chosen[b * size:(b + 1) * size] for b in range(len(chosen) // size)]


st.title("Mystery models")
st.markdown(
    "Three more models, trained on cats and dogs. One of them is the **normal** model; the other two "
    "learned a shortcut. Look at their predictions and saliency maps: can you tell which is which, "
    "and what each one learned? Click a model's title to reveal it."
)

require_data()
if any(zoo_or_none(name) is None for name in MYSTERY_MODELS):
    st.info(ZOO_HELP, icon=":material/model_training:")
    st.stop()

# Per session: a fresh shuffle of the three models (so the column gives nothing away), the batch
# on show and the revealed spoilers. SystemRandom: sessions must not share a seed.
if "mystery_order" not in st.session_state:
    order = list(MYSTERY_MODELS)
    random.SystemRandom().shuffle(order)
    st.session_state["mystery_order"] = order
st.session_state.setdefault("mystery_batch", 0)
st.session_state.setdefault("mystery_revealed", [])


def _shuffle() -> None:
    st.session_state["mystery_batch"] = (st.session_state["mystery_batch"] + 1) % BATCHES


def _reveal(name: str) -> None:
    revealed: list[str] = st.session_state["mystery_revealed"]
    if name not in revealed:
        st.session_state["mystery_revealed"] = [*revealed, name]


def _hide_all() -> None:
    st.session_state["mystery_revealed"] = []


@st.fragment
def mystery_panel() -> None:
    """The controls and the image grid; an interaction here reruns only this panel."""
    order: list[str] = st.session_state["mystery_order"]
    revealed: list[str] = st.session_state["mystery_revealed"]
    batch = int(st.session_state["mystery_batch"]) % BATCHES

    left, middle, right = st.columns([2, 1, 1], vertical_alignment="bottom")
    with left:
        choice = st.segmented_control("Saliency map", list(METHODS), default="Vanilla gradient",
                                      key="mystery_method")
    with middle:
        st.button("Shuffle data", icon=":material/shuffle:", on_click=_shuffle, key="mystery_shuffle",
                  help="Show the next batch of four photos", width="stretch")
    with right:
        st.button("Hide spoilers", icon=":material/visibility_off:", on_click=_hide_all,
                  key="mystery_hide", disabled=not revealed, width="stretch")
    method = METHODS[choice or "Vanilla gradient"]
    st.caption(f"Batch {batch + 1} of {BATCHES}. The last two photos of each batch are behind cage bars.")

    images = mystery_batches(BATCHES, len(INPUT_NOTES))[batch]
    with st.spinner("Computing saliency maps…"):
        results = {name: zoo_batch_maps(name, images, method) for name in order}

    # Header row: the clickable titles, then a row for the spoilers, then one row per photo, so
    # the photos stay aligned across the columns whatever the spoilers' lengths.
    header = st.columns(4)
    header[0].markdown("##### Input images")
    for k, name in enumerate(order, start=1):
        shown = name in revealed
        # The label stays short (a column is narrow); the identity opens the spoiler below it.
        header[k].button(f"Mystery model {k}", key=f"mystery_reveal_{k}", on_click=_reveal, args=(name,),
                         type="primary" if shown else "secondary", width="stretch",
                         icon=":material/lock_open:" if shown else ":material/lock:",
                         help=None if shown else "Click to reveal what this model learned")
    if revealed:
        spoiler_row = st.columns(4)
        for k, name in enumerate(order, start=1):
            if name in revealed:
                spoiler_row[k].success(f"**Mystery model {k} is {SPOILERS[name][0]}.** {SPOILERS[name][1]}",
                                       icon=":material/lightbulb:")

    truths = ("cat", "dog", "cat", "dog")
    for i in range(images.shape[0]):
        row = st.columns(4)
        row[0].image(upscale(images[i], 256), caption=INPUT_NOTES[i], width="stretch")
        for k, name in enumerate(order, start=1):
            result = results[name]
            with row[k]:
                st.image(upscale(overlay(images[i], result.maps[i], alpha=0.75), 256), width="stretch")
                st.markdown(chip_for(result.probabilities[i], CLASSES, truth=truths[i]),
                            unsafe_allow_html=True)


mystery_panel()
