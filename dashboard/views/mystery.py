"""Page 5, Mystery models: three zoo models under neutral titles; which one cheats, and how?

As in the explorable's "other cheats" section: a cage detector, a colour detector and the normal
model, in an order shuffled once per session; five batches of four photos ("Shuffle"); vanilla or
squared gradient overlays; clicking a model's title reveals its spoiler. Reveals live in this
session's state only. The photos and maps are one HTML grid that keeps its four labelled columns at
any width (400 px phones included). It opens with the question and closes with Adebayo et al.'s
finding and our models' measured numbers (``dashboard.common.lessons``): measured over all 20
photos only once asked for (every model revealed, or the spoiler's button), then kept for the
server and on disk (keyed on the photos' pixels and the models' weights): a first visit stays fast.
"""

from __future__ import annotations

import html
import random
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st
import torch

from dashboard.common import warmup
from dashboard.common.chips import chip_for
from dashboard.common.demo_sets import demo_images
from dashboard.common.diskcache import cached_frame
from dashboard.common.downloads import csv_download, png_download
from dashboard.common.explanations import digest_of, zoo_batch_maps
from dashboard.common.lessons import (
    MysteryEvidence,
    MysteryProgress,
    measure_mystery,
    mystery_lesson,
    mystery_question,
)
from dashboard.common.messages import ZOO_HELP
from dashboard.common.models import CLASSES, model_fingerprint, zoo_or_none
from dashboard.common.photos import require_data
from dashboard.common.render import data_uri, overlay, side_by_side, upscale
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
EVIDENCE_VERSION = 1  # part of the disk cache's key: bump it when the measurement changes
RERUN_PAGE_KEY = "mystery_rerun_page"  # session state: the last model was revealed, the lesson opens
METHODS = {"Vanilla gradient": "vanilla_gradient", "Gradient squared": "gradient_squared"}
INPUT_NOTES = ("cat", "dog", "cat behind bars", "dog behind bars")


@dataclass(frozen=True)
class MysteryPhotos:
    """The mystery photos: ``images`` [N,3,H,W]; ``labels``; ``caged`` per photo; ``bars`` bool
    [N,H,W] (the cage's pixels, empty when uncaged); ``pets`` bool [N,H,W] of the animal (None when
    the photos have no pet masks)."""

    images: torch.Tensor
    labels: tuple[str, ...]
    caged: tuple[bool, ...]
    bars: torch.Tensor
    pets: torch.Tensor | None

    def batch(self, b: int, size: int) -> slice:
        return slice(b * size, (b + 1) * size)


@st.cache_resource(show_spinner="Preparing the mystery images…", max_entries=2)
def mystery_photos(batches: int = 5, size: int = 4) -> MysteryPhotos:
    """``batches`` batches of ``size`` clean test photos, cats and dogs alternating.

    The second half of every batch goes behind cage bars (``saliency_core.artefacts.cage``) so the
    cage detector has something to find, as in the explorable's "other cheats" images.
    """
    half = batches * size // 2
    demo = demo_images(half, watermark_cats=False, watermark_dogs=False)
    cats = [i for i, label in enumerate(demo.labels) if label == "cat"][:half]
    dogs = [i for i, label in enumerate(demo.labels) if label == "dog"][:half]
    order = [i for pair in zip(cats, dogs) for i in pair]
    chosen = demo.images_at(order)
    bars = torch.zeros((len(order), *chosen.shape[2:]), dtype=torch.bool)
    caged = tuple(j % size >= size // 2 for j in range(len(order)))
    for j in range(len(chosen)):
        if caged[j]:
            chosen[j], bars[j] = cage(chosen[j], seed=j)
    pets = None if demo.pet_masks is None else demo.pet_masks[order]
    return MysteryPhotos(chosen, tuple(demo.labels[i] for i in order), caged, bars, pets)


@st.cache_resource
def measured_evidence() -> dict[tuple, MysteryEvidence]:
    """The lesson's numbers this server has measured (or read from disk), by :func:`evidence_key`:
    once one session has them, every session shows them without measuring."""
    return {}


def evidence_key(photos: MysteryPhotos) -> tuple:
    """What the numbers depend on: the photos' pixels (caged ones included) and the three models'
    weights."""
    return ("mystery", EVIDENCE_VERSION, digest_of(photos.images),
            *(model_fingerprint(name) for name in MYSTERY_MODELS))


def measure_evidence(key: tuple, photos: MysteryPhotos, progress: MysteryProgress) -> MysteryEvidence:
    """The lesson's numbers over all the mystery photos: from disk when a server measured them
    before, else measured now (``progress`` per model) and written there."""
    def build() -> pd.DataFrame:
        return measure_mystery(MYSTERY_MODELS, photos.images, photos.labels, photos.caged, photos.bars,
                               photos.pets, progress=progress).to_frame()

    evidence = MysteryEvidence.from_frame(cached_frame("mystery-evidence", key, build))
    measured_evidence()[key] = evidence
    return evidence


GRID_CSS = """<style>
.sl-mystery{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:6px 6px;align-items:start;
  width:100%;max-width:1100px}
.sl-mystery .sl-mh{font-weight:600;font-size:0.95rem;line-height:1.2;overflow-wrap:anywhere}
.sl-mystery figure{margin:0;min-width:0}
.sl-mystery img{display:block;width:100%;height:auto;border-radius:4px}
.sl-mystery figcaption{font-size:0.8rem;line-height:1.2;margin-top:2px;overflow-wrap:anywhere}
.sl-mystery .sl-chip{white-space:normal!important;font-size:0.75rem!important}
</style>"""


def grid_html(inputs: list[str], notes: tuple[str, ...], columns: list[tuple[str, list[str], list[str]]]) -> str:
    """One HTML grid (4 columns at any width: it never stacks, so every map keeps its model's
    label): a heading row, then per photo the input and one map + chip per model. ``columns``:
    (heading, map data URIs, chip HTML) per model."""
    parts = [GRID_CSS, '<div class="sl-mystery" role="table" aria-label="Mystery models\' maps">',
             '<div class="sl-mh" role="columnheader">Input images</div>']
    parts += [f'<div class="sl-mh" role="columnheader" data-col="{k}">{html.escape(heading)}</div>'
              for k, (heading, _, _) in enumerate(columns, start=1)]
    for i, uri in enumerate(inputs):
        parts.append(f'<figure><img src="{uri}" alt="input photo: {html.escape(notes[i])}"/>'
                     f"<figcaption>{html.escape(notes[i])}</figcaption></figure>")
        for heading, maps, chips in columns:
            parts.append(f'<figure><img src="{maps[i]}" alt="{html.escape(heading)}: saliency map"/>'
                         f'<figcaption><span class="sl-mlabel">{html.escape(heading)}</span><br>{chips[i]}'
                         "</figcaption></figure>")
    parts.append("</div>")
    return "".join(parts)


st.title("Mystery models")
st.markdown(
    "Three more models, trained on cats and dogs. One of them is the **normal** model; the other two "
    "learned a shortcut. Look at their predictions and saliency maps: can you tell which is which, "
    "and what each one learned? Click a model's title to reveal it."
)
mystery_question()

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


@st.cache_resource(show_spinner=False, max_entries=8)
def prefetch(key: tuple, method: str, _photos: MysteryPhotos) -> threading.Thread:
    """Every batch's maps of ``method`` for the three models, computed once per server in a
    background thread (the same cache the panel reads), so that "Shuffle data" shows a batch
    already computed (0.4 s for a new batch on the server, 0.2 s for a cached one)."""
    def run() -> None:
        for b in range(BATCHES):
            images = _photos.images[_photos.batch(b, len(INPUT_NOTES))]
            for name in MYSTERY_MODELS:
                zoo_batch_maps(name, images, method)

    thread = threading.Thread(target=run, name=f"{warmup.PREFIX}mystery-prefetch", daemon=True)
    thread.start()
    return thread


def _shuffle() -> None:
    st.session_state["mystery_batch"] = (st.session_state["mystery_batch"] + 1) % BATCHES


def _reveal(name: str) -> None:
    revealed: list[str] = st.session_state["mystery_revealed"]
    if name not in revealed:
        st.session_state["mystery_revealed"] = [*revealed, name]
        if len(revealed) + 1 == len(MYSTERY_MODELS):  # the lesson below the panel opens: rerun the page
            st.session_state[RERUN_PAGE_KEY] = True


def _hide_all() -> None:
    st.session_state["mystery_revealed"] = []


@st.fragment
def mystery_panel() -> None:
    """The controls and the image grid; an interaction here reruns only this panel."""
    if st.session_state.pop(RERUN_PAGE_KEY, False):
        st.rerun(scope="app")  # the last reveal: the lesson below (outside this fragment) opens too
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

    photos = mystery_photos(BATCHES, len(INPUT_NOTES))
    images = photos.images[photos.batch(batch, len(INPUT_NOTES))]
    with st.spinner("Computing saliency maps…"):
        results = {name: zoo_batch_maps(name, images, method) for name in order}
    if warmup.enabled():  # not under the tests (SALIENCY_WARMUP=0), like the server's warm-up
        prefetch(evidence_key(photos), method, photos)  # the other batches, in the background

    # The titles are buttons (a click reveals the spoiler below them); the photos and maps are one
    # HTML grid underneath, which keeps its four columns (and each map's label) at any width.
    header = st.columns(3)
    for k, name in enumerate(order, start=1):
        shown = name in revealed
        header[k - 1].button(f"Mystery model {k}", key=f"mystery_reveal_{k}", on_click=_reveal, args=(name,),
                             type="primary" if shown else "secondary", width="stretch",
                             icon=":material/lock_open:" if shown else ":material/lock:",
                             help=None if shown else "Click to reveal what this model learned")
    for k, name in enumerate(order, start=1):
        if name in revealed:
            st.success(f"**Mystery model {k} is {SPOILERS[name][0]}.** {SPOILERS[name][1]}",
                       icon=":material/lightbulb:")

    truths = ("cat", "dog", "cat", "dog")
    pictures = {name: [overlay(upscale(images[i], 192), results[name].maps[i], alpha=0.75)
                       for i in range(images.shape[0])] for name in order}
    inputs = [upscale(images[i], 192) for i in range(images.shape[0])]
    columns = [(f"Mystery model {k}", [data_uri(p, fmt="JPEG", quality=85) for p in pictures[name]],
                [chip_for(results[name].probabilities[i], CLASSES, truth=truths[i]) for i in range(len(inputs))])
               for k, name in enumerate(order, start=1)]
    st.markdown(grid_html([data_uri(p, fmt="JPEG", quality=88) for p in inputs], INPUT_NOTES, columns),
                unsafe_allow_html=True)

    rows = [{"photo": i + 1, "truth": truths[i], "behind bars": INPUT_NOTES[i].endswith("bars"),
             "model": f"mystery model {k}" + (f" ({name})" if name in revealed else ""),
             "predicted": CLASSES[int(np.argmax(results[name].probabilities[i]))],
             "P(dog)": float(results[name].probabilities[i][CLASSES.index("dog")])}
            for i in range(len(inputs)) for k, name in enumerate(order, start=1)]
    picture = np.concatenate([side_by_side(inputs[i], *(pictures[name][i] for name in order), gap=4)
                              for i in range(len(inputs))], axis=0)
    left, right = st.columns(2)
    with left:
        png_download("These maps (PNG)", picture, f"mystery-batch{batch + 1}-{method}.png", "mystery_png")
    with right:
        csv_download("These predictions (CSV)", pd.DataFrame(rows), f"mystery-batch{batch + 1}.csv", "mystery_csv")


mystery_panel()

photos = mystery_photos(BATCHES, len(INPUT_NOTES))
key = evidence_key(photos)
mystery_lesson(measured_evidence().get(key),
               revealed_all=len(st.session_state["mystery_revealed"]) == len(MYSTERY_MODELS),
               measure=lambda progress: measure_evidence(key, photos, progress))
