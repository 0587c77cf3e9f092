"""Page 5, Mystery models: three zoo models under neutral titles; which one cheats, and how?

As in the explorable's "other cheats" section: a cage detector, a colour detector and the normal
model, in an order shuffled once per session; five batches of four photos ("Shuffle"); vanilla or
squared gradient overlays; clicking a model's title reveals its spoiler. Reveals live in this
session's state only.
"""

from __future__ import annotations

import random

import streamlit as st

from dashboard.common import chip_for, overlay, require_data, upscale
from dashboard.views._b_helpers import (
    MYSTERY_MODELS,
    SPOILERS,
    ZOO_HELP,
    digest_of,
    mystery_batches,
    zoo_maps,
    zoo_or_none,
)

BATCHES = 5
METHODS = {"Vanilla gradient": "vanilla_gradient", "Gradient squared": "gradient_squared"}
INPUT_NOTES = ("cat", "dog", "cat behind bars", "dog behind bars")

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
    digest = digest_of(images)
    with st.spinner("Computing saliency maps…"):
        results = {name: zoo_maps(name, digest, method, images) for name in order}

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
                st.markdown(chip_for(result.probabilities[i], ("cat", "dog"), truth=truths[i]),
                            unsafe_allow_html=True)


mystery_panel()
