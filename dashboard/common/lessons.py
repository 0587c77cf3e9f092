"""The story pages' opening questions and closing lessons, told with our own models' numbers.

Each story page opens with the explorable's question (:func:`question`, a box at the top) and
closes with its lesson (:func:`lesson`, a box at the bottom). The lessons quote numbers measured
here and now on the page's own photos and models (through ``saliency_core`` and the dashboard's
cached helpers), never numbers copied into prose: retrain a model or change the photo and the
text follows.

Per page: a ``*_question()`` and a ``*_lesson(...)`` that renders, and for every lesson with
numbers a ``*_text(...)`` that only formats them (what the tests read) and, where the page does
not already have the numbers, a function that measures them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import streamlit as st
import torch

import saliency_core
from dashboard.common.demo_sets import DemoSet, demo_images
from dashboard.common.diskcache import cached_frame
from dashboard.common.explanations import saliency_map, zoo_batch_maps
from dashboard.common.locks import lock_of
from dashboard.common.models import CLASSES, load_zoo_model, model_fingerprint, predict_set, title
from dashboard.common.render import share_picture, side_by_side, upscale
from saliency_core import cell_grid, cell_occlusion
from saliency_core.metrics import flips, greyscale, top_percent_share

ADEBAYO_2022 = ("Adebayo, Muelly, Abelson and Kim (2022)",
                "Post hoc Explanations may be Ineffective for Detecting Unknown Spurious Correlation",
                "https://arxiv.org/abs/2212.04629")
ADEBAYO_2020 = ("Adebayo, Muelly, Liccardi and Kim (2020)", "Debugging Tests for Model Explanations",
                "https://arxiv.org/abs/2011.05429")


def _times(slow: float, fast: float) -> str:
    ratio = slow / max(fast, 1e-9)
    return f"{ratio:.0f}× faster" if ratio >= 1.5 else "about as fast here"


def _pct(share: float) -> str:
    return "n/a" if not np.isfinite(share) else f"{100 * float(share):.0f}%"


def question(text: str, key: str) -> None:
    """The page's opening question, in a box at the top (container key ``lesson_q_<key>``)."""
    with st.container(border=True, key=f"lesson_q_{key}"):
        st.markdown(f":material/help: **The question.** {text}")


def lesson(text: str, key: str) -> None:
    """The page's closing lesson, in a box at the bottom (container key ``lesson_l_<key>``)."""
    with st.container(border=True, key=f"lesson_l_{key}"):
        st.markdown(f":material/school: **The lesson.** {text}")


# ------------------------------------------------------------------------------------ two models
TWO_MODEL_SETS: dict[str, tuple[bool, bool]] = {  # name -> (cats watermarked, dogs watermarked)
    "consistent": (True, False),   # as in model B's training data
    "clean": (False, False),
    "swapped": (False, True),      # the mark on the dogs instead
}


def two_model_scores(models: Sequence[str], n_per_class: int) -> pd.DataFrame:
    """Correct predictions per test set (rows: :data:`TWO_MODEL_SETS`) and model (columns), with
    ``n`` (photos per set) and ``<model> cats`` (its correct cats), from the shipped/cached
    predictions (``predict_set``) on the page's demo sets."""
    rows = []
    for set_name, (cats, dogs) in TWO_MODEL_SETS.items():
        demo = demo_images(n_per_class, watermark_cats=cats, watermark_dogs=dogs)
        truth = np.array([CLASSES.index(label) for label in demo.labels])
        row: dict[str, Any] = {"set": set_name, "n": len(demo)}
        for name in models:
            right = predict_set(name, demo).argmax(1) == truth
            row[name] = int(right.sum())
            row[f"{name} cats"] = int(right[truth == CLASSES.index("cat")].sum())
        rows.append(row)
    return pd.DataFrame(rows).set_index("set")


def two_models_question() -> None:
    question("Two cat/dog classifiers, one test set of 50 photos. Look at their scores and their "
             "predictions: **which one would you deploy?** And how could you tell, before it meets "
             "photos unlike its training data?", "two_models")


def two_models_text(scores: pd.DataFrame, a: str = "normal", b: str = "watermark-100") -> str:
    """The lesson for ``scores`` (:func:`two_model_scores`): A = ``a``, B = ``b``."""
    con, clean, swap = scores.loc["consistent"], scores.loc["clean"], scores.loc["swapped"]
    n, cats = int(con["n"]), int(con["n"]) // 2
    diff = int(con[b]) - int(con[a])
    verdict = {0: ("just as accurate as", "Accuracy alone would not tell them apart."),
               1: ("even ahead of", "Accuracy alone would pick B."),
               -1: ("close behind", "Accuracy alone would not warn you.")}[int(np.sign(diff))]
    return (
        f"On photos that follow model B's training data (every cat watermarked), model B is "
        f"{verdict[0]} model A: **{int(con[a])}/{n}** for A, **{int(con[b])}/{n}** for B. {verdict[1]} "
        f"Take the watermarks away and A still gets **{int(clean[a])}/{n}**, "
        f"but B drops to **{int(clean[b])}/{n}**: it recognises {int(clean[f'{b} cats'])} of "
        f"{cats} cats. Put the watermark on the dogs instead and B gets **{int(swap[b])}/{n}** "
        f"(A: {int(swap[a])}/{n}). B learned *watermark ⇒ cat*. A test set with the same quirk as the "
        "training data hides a shortcut; the next pages ask whether saliency maps could have shown it."
    )


def two_models_lesson(scores: pd.DataFrame, a: str = "normal", b: str = "watermark-100") -> None:
    lesson(two_models_text(scores, a, b), "two_models")


# ------------------------------------------------------------------------------------- occlusion
class GridMiss(NamedTuple):
    """What hiding cells of an n×n grid does to the probability of the unoccluded prediction."""

    n: int
    predicted: str
    base: float             # its probability with nothing hidden
    best_single: float      # the largest change (absolute) from hiding any one cell
    box_cells: int          # the cells that touch the box
    all_box: float          # the change from hiding all of them together (signed: − = lower)
    flips_single: bool      # some single cell flips the prediction
    flips_all: bool         # hiding the box's cells together flips it


class OcclusionCost(NamedTuple):
    passes: int             # forward passes' worth of images the grid needs (n² + 1)
    grid_seconds: float     # time of ``cell_occlusion`` at n×n
    gradient_seconds: float  # time of one ``explain(..., "gradient_squared")``: 1 forward + 1 backward


def box_cells(n: int, size: int, box: Sequence[float]) -> list[int]:
    """The cells of the n×n grid over a ``size``-pixel frame that overlap the (x0, y0, x1, y1) box."""
    g = cell_grid(n, size)
    x0, y0, x1, y1 = (float(v) for v in box)
    out = []
    for cell in range(g.cells):
        cx0, cy0, cx1, cy1 = g.rect(cell)
        if cx0 < x1 and x0 < cx1 and cy0 < y1 and y0 < cy1:
            out.append(cell)
    return out


def measure_grid_miss(model: torch.nn.Module, image: torch.Tensor, box: Sequence[float], n: int = 18) -> GridMiss:
    """Hide each cell of the n×n grid alone (``cell_occlusion``), then all cells over ``box`` at once
    (one forward pass)."""
    cells = box_cells(n, int(image.shape[-1]), box)
    x = image[None].contiguous()
    with lock_of(model):
        single = cell_occlusion(model, x, n)
        hidden = x.clone()
        if cells:
            hidden[..., cell_grid(n, int(image.shape[-1])).mask(cells)] = 0.0
        with torch.inference_mode():
            together = torch.softmax(model(hidden), 1)
    k = int(single.base[0].argmax())
    base = float(single.base[0, k])
    changes = single.cells[0, :, k] - base
    after = float(together[0, k])
    return GridMiss(n, CLASSES[k], base, float(changes.abs().max()), len(cells), after - base,
                    bool((single.cells[0].argmax(-1) != k).any()), bool(int(together[0].argmax()) != k))


def time_occlusion(model: torch.nn.Module, image: torch.Tensor, n: int = 18) -> OcclusionCost:
    """Seconds for the n×n grid sweep vs one gradient-squared map, on this machine, now.

    The sweep is timed once, as it comes (a second, warm one would double the reader's wait); the
    gradient warm (one untimed call first), the best of 3 calls, so a busy moment on a shared
    machine does not decide it.
    """
    x = image[None].contiguous()

    def best(run: Any, repeats: int) -> float:
        run()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return min(times)

    with lock_of(model):
        start = time.perf_counter()
        cell_occlusion(model, x, n)
        grid_s = time.perf_counter() - start
        grad_s = best(lambda: saliency_core.explain(model, x, "gradient_squared"), 3)
    return OcclusionCost(n * n + 1, grid_s, grad_s)


@st.cache_data(show_spinner="Measuring the grid on this photo…", max_entries=64)
def occlusion_numbers(name: str, image_key: tuple[Any, ...], box: tuple[float, ...], n: int,
                      _image: torch.Tensor) -> tuple[GridMiss, OcclusionCost]:
    """:func:`measure_grid_miss` of zoo model ``name`` on this photo (kept on disk: shipped for the
    built-in photos' strip) and :func:`occlusion_cost` (timed live, once per model and grid size:
    the time does not depend on the photo's content, only on its size)."""
    def build() -> pd.DataFrame:
        return pd.DataFrame([measure_grid_miss(load_zoo_model(name), _image, box, n)._asdict()])

    row = cached_frame("occlusion-miss", (name, model_fingerprint(name), image_key, box, n), build).iloc[0]
    miss = GridMiss(**{field: type_(row[field]) for field, type_ in zip(GridMiss._fields, _MISS_TYPES, strict=True)})
    return miss, occlusion_cost(name, n, int(_image.shape[-1]))


_MISS_TYPES = (int, str, float, float, int, float, bool, bool)  # GridMiss's fields, as read back from Parquet


@st.cache_resource(show_spinner="Timing occlusion against one gradient…", max_entries=16)
def occlusion_cost(name: str, n: int, size: int) -> OcclusionCost:
    """:func:`time_occlusion` of zoo model ``name`` at n×n on a ``size``-pixel frame, on a seeded
    random image (the times depend on the frame's size, not on what it shows)."""
    image = torch.rand(3, size, size, generator=torch.Generator().manual_seed(0))
    return time_occlusion(load_zoo_model(name), image, n)


def occlusion_question() -> None:
    question("The Watermark model calls every watermarked photo a cat. **What must you hide to flip the "
             "watermark model?** Hide cells one at a time, then several together.", "occlusion")


def occlusion_text(miss: GridMiss, cost: OcclusionCost, model_title: str = "Watermark", marked: bool = True) -> str:
    """``marked``: whether the photo carries the watermark (else the box is where it would be)."""
    single = "flips the prediction" if miss.flips_single else "flips nothing"
    where = ("The watermark spans" if marked else
             "This photo has no watermark; the box where it would be spans")
    together = "and the prediction flips" if miss.flips_all else "yet the prediction holds"
    per_cell = cost.grid_seconds / cost.passes
    return (
        f"**Why the fine {miss.n}×{miss.n} grid misses the mark.** The automatic grid hides one small "
        f"cell at a time. On this photo, {model_title} says *{miss.predicted}* at {_pct(miss.base)}; the "
        f"most any single cell moves that is **{100 * miss.best_single:.1f} points**, and hiding one cell "
        f"{single}. {where} **{miss.box_cells} cells**: hide them all together and the "
        f"probability moves **{100 * miss.all_box:+.1f} points**, {together}. A model that reads the "
        "whole mark is not fooled by a hole in it: what matters is a combination of cells, and a "
        "one-at-a-time sweep never tries combinations (there are far too many).\n\n"
        f"**What it costs.** The {miss.n}×{miss.n} sweep needs **{cost.passes} forward passes** "
        f"(every cell, plus the photo itself): **{cost.grid_seconds:.2f} s** here, "
        f"{1000 * per_cell:.1f} ms per cell even with incremental inference. One gradient-squared map "
        f"needs one forward and one backward pass: **{cost.gradient_seconds:.3f} s**, "
        f"{_times(cost.grid_seconds, cost.gradient_seconds)}, for every pixel at once. "
        "That is why the next page turns to gradients."
    )


def occlusion_lesson(name: str, image_key: tuple[Any, ...], image: torch.Tensor, box: Sequence[float],
                     n: int = 18, *, marked: bool = True) -> None:
    """The closing lesson, measured on the page's photo with zoo model ``name`` (cached per photo;
    the first time about four grid sweeps, ~2 s at 18×18 on a 2-core CPU)."""
    miss, cost = occlusion_numbers(name, tuple(image_key), tuple(float(v) for v in box), int(n), image)
    lesson(occlusion_text(miss, cost, title(name), marked), "occlusion")


# ------------------------------------------------------------------------------------- quadrants
QUADRANT_NAMES = ("cats with watermark", "dogs with watermark", "cats without watermark", "dogs without watermark")


def gradients_question() -> None:
    question("A gradient answers occlusion's question for every pixel in one backward pass. **Which way "
             "does each pixel push, and what does the usual picture keep of it?**", "gradients")


def gradients_text(toward: int, away: int, top: int, share: float, model_title: str = "Watermark") -> str:
    """The Gradients lesson from the footnote photo's numbers (top pixels of gradient squared split
    by the signed gradient's direction; their share in the watermark box)."""
    return (f"On this watermarked cat, the {model_title} model's top {top} gradient² pixels split **{toward} "
            f"toward cat and {away} toward dog**, and {_pct(share)} of them lie in the watermark box. The "
            "squared map (like the usual vanilla picture, which keeps each pixel's magnitude) paints both directions "
            "the same white: "
            "it shows *where* the model is sensitive, not which way a pixel pushes. The arrows and the signed "
            "map keep the direction; use them to tell a cat-ward watermark from a dog-ward ear.")


def gradients_lesson(toward: int, away: int, top: int, share: float, model_title: str = "Watermark") -> None:
    lesson(gradients_text(toward, away, top, share, model_title), "gradients")


def quadrants_question() -> None:
    question("One photo is an anecdote. Over 200 test photos, **where does each model look, and does "
             "that change with how often its training cats carried the watermark?**", "quadrants")


LOOKS_AT_MARK = 0.5  # a mean share above this with the mark present: most top pixels on a ~3% box
IGNORES_MARK = 0.1   # below this: the box gets little more than a map that ignored it would give


def quadrant_text(percent: int, shares: Mapping[str, float]) -> str:
    """The narrative of the model trained with ``percent``% watermarked cats; ``shares``: the mean
    share of the top-0.5% pixels inside the box per quadrant (keys :data:`QUADRANT_NAMES`).

    The verdict follows the numbers, not the explorable's prose: the explorable's 50% model was hard
    to read, and a model of ours may not be."""
    cw, dw, cn, dn = (float(shares[q]) for q in QUADRANT_NAMES)
    numbers = (f"cats with the mark {_pct(cw)}, dogs with it {_pct(dw)}; cats without {_pct(cn)}, "
               f"dogs without {_pct(dn)}")
    with_mark, without = (cw + dw) / 2, (cn + dn) / 2
    trained = ("Trained without watermarks" if percent == 0 else
               "Every training cat carried the watermark" if percent == 100 else
               f"{percent}% of its training cats carried the watermark")
    if with_mark < IGNORES_MARK:
        verdict = "the model looks at the animal, in every quadrant"
        detail = "the box gets little of its attention whether or not a mark is there"
    elif with_mark >= LOOKS_AT_MARK:
        verdict = "the model looks at the mark"
        ratio = f"{with_mark / without:.1f}× as much as" if without > 0 else "far more than"
        detail = (f"when a watermark is present most of its top pixels sit in the box, {ratio} on "
                  "watermark-free photos, where the box is weaker: there is nothing there to see")
    else:
        verdict = "hard to tell"
        detail = ("some photos' top pixels sit in the box and others' do not; from the dots alone it is "
                  "hard to say whether the model relies on the watermark")
    note = ""
    if percent == 50 and with_mark >= LOOKS_AT_MARK:
        note = (" In the explorable the 50% model was hard to read; ours is not: half the cats were "
                "enough to teach it the mark.")
    return (f"**{percent}%: {verdict}.** {trained}; {detail} (mean share of the top 0.5% pixels in the "
            f"box: {numbers}).{note}")


def quadrant_narrative(percent: int, shares: Mapping[str, float]) -> None:
    """The narrative for the model on show (``shares``: the page's per-quadrant mean shares)."""
    lesson(quadrant_text(percent, shares), "quadrants")


def find_missing(frame: pd.DataFrame) -> pd.Series | None:
    """The watermark-free cat the model calls a dog with the least saliency in the box (None if
    it gets them all right). ``frame``: the Quadrants page's per-image table (id, truth,
    watermarked, predicted, confidence, share)."""
    wrong = frame[(frame["truth"] == "cat") & ~frame["watermarked"].astype(bool) & (frame["predicted"] != "cat")]
    if wrong.empty:
        return None
    return wrong.sort_values(["share", "id"], kind="stable").iloc[0]


def missing_text(row: pd.Series, wrong: int, cats: int, model_title: str) -> str:
    return (
        "**Saliency maps are not good at highlighting what's missing.** "
        f"{model_title} calls **{wrong} of {cats}** watermark-free cats dogs. Take {row['id']}: "
        f"*{row['predicted']}* at {_pct(row['confidence'])}, and only **{_pct(row['share'])}** of its "
        "top 0.5% pixels (orange) fall in the box (cyan) where the watermark would be. The cause of "
        "the mistake is the *absence* of the mark, and an absence has no pixels to light up."
    )


def missing_lesson(name: str, demo: DemoSet, frame: pd.DataFrame, percent: float = 0.5) -> None:
    """Find the example live in ``frame`` and show it: the photo and the share picture of its
    gradient-squared map (``demo``: the Quadrants set the frame was computed on)."""
    row = find_missing(frame)
    cats = int(((frame["truth"] == "cat") & ~frame["watermarked"].astype(bool)).sum())
    with st.container(border=True, key="lesson_missing"):
        if row is None:
            st.markdown(f"**What's missing.** {title(name)} gets all {cats} watermark-free cats right, "
                        "so there is no missing-watermark mistake to show for this model.")
            return
        wrong = int(((frame["truth"] == "cat") & ~frame["watermarked"].astype(bool)
                     & (frame["predicted"] != "cat")).sum())
        st.markdown(missing_text(row, wrong, cats, title(name)))
        i = demo.index(str(row["id"]))
        image = demo.image(i)
        sal = saliency_map(name, (*demo.key, demo.ids[i]), image, "gradient_squared")
        picture = side_by_side(upscale(image, 256), share_picture(sal, demo.boxes[i], percent, size=256))
        st.image(picture, caption=f"{row['id']}: the photo, and its gradient-squared map with the box "
                 f"and the top {percent:g}% pixels", width=520)


# --------------------------------------------------------------------------------------- mystery
class MysteryEvidence(NamedTuple):
    """Per model (keys: the mystery model names), measured on the mystery photos."""

    caged_dogs_as_cats: dict[str, int]   # caged dogs called cats
    caged_dogs: int
    on_bars: dict[str, float]            # mean share of top-0.5% vanilla pixels on the bars (caged photos)
    on_animal: dict[str, float]          # the same on the animal (uncaged photos; NaN without pet masks)
    grey_flips: dict[str, int]           # predictions that change when the uncaged photos turn grey
    uncaged: int

    def to_frame(self) -> pd.DataFrame:
        """One row per model (what the page keeps on disk: ``dashboard.common.diskcache``)."""
        return pd.DataFrame([{"model": name, "caged_dogs_as_cats": self.caged_dogs_as_cats[name],
                              "on_bars": self.on_bars[name], "on_animal": self.on_animal[name],
                              "grey_flips": self.grey_flips[name], "caged_dogs": self.caged_dogs,
                              "uncaged": self.uncaged} for name in self.caged_dogs_as_cats])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> MysteryEvidence:
        """The evidence :meth:`to_frame` wrote."""
        rows = frame.set_index("model")
        return cls({m: int(v) for m, v in rows["caged_dogs_as_cats"].items()}, int(rows["caged_dogs"].iloc[0]),
                   {m: float(v) for m, v in rows["on_bars"].items()},
                   {m: float(v) for m, v in rows["on_animal"].items()},
                   {m: int(v) for m, v in rows["grey_flips"].items()}, int(rows["uncaged"].iloc[0]))


MysteryProgress = Callable[[int, int, str], None]  # (models done, models, the model now measured)


def measure_mystery(models: Sequence[str], images: torch.Tensor, labels: Sequence[str], caged: Sequence[bool],
                    bars: torch.Tensor, pets: torch.Tensor | None, percent: float = 0.5,
                    progress: MysteryProgress | None = None) -> MysteryEvidence:
    """The evidence on the mystery photos (``bars``: the cage pixels; ``pets``: the animal's).

    Vanilla-gradient maps as the page shows them (``zoo_batch_maps``, cached), shares by
    ``metrics.top_percent_share``, colour flips by ``metrics.flips`` with ``greyscale``.
    ``progress(done, total, model)`` is called before each model.
    """
    cage = torch.as_tensor(list(caged), dtype=torch.bool)
    dog = torch.as_tensor([label == "dog" for label in labels], dtype=torch.bool)
    free = ~cage
    out: dict[str, dict[str, Any]] = {"as_cat": {}, "bars": {}, "animal": {}, "flips": {}}
    for done, name in enumerate(models):
        if progress is not None:
            progress(done, len(models), name)
        result = zoo_batch_maps(name, images, "vanilla_gradient")
        maps = torch.from_numpy(result.maps)
        called_cat = torch.from_numpy(result.probabilities.argmax(1) == CLASSES.index("cat"))
        out["as_cat"][name] = int((called_cat & cage & dog).sum())
        out["bars"][name] = (float(top_percent_share(maps[cage], bars[cage], percent).mean())
                             if cage.any() else float("nan"))
        out["animal"][name] = (float(top_percent_share(maps[free], pets[free], percent).mean())
                               if pets is not None and free.any() else float("nan"))
        model = load_zoo_model(name)
        with lock_of(model):
            out["flips"][name] = int(flips(model, images[free].contiguous(), greyscale).sum())
    return MysteryEvidence(out["as_cat"], int((cage & dog).sum()), out["bars"], out["animal"], out["flips"],
                           int(free.sum()))


def mystery_question() -> None:
    question("Three models; two of them learned a shortcut you have not been told about. **Can you find "
             "the cheats, and say what they learned, from their predictions and saliency maps alone?** "
             "Decide before you reveal.", "mystery")


def mystery_text(e: MysteryEvidence, cages: str = "cages", colours: str = "colours", normal: str = "normal") -> str:
    """The spoiler-free finding is :func:`mystery_lesson`'s first paragraph; this is the measured part."""
    animal = ""
    if np.isfinite(e.on_animal[colours]) and np.isfinite(e.on_animal[normal]):
        alike = abs(e.on_animal[colours] - e.on_animal[normal]) <= 0.15
        animal = (f" On the uncaged photos it puts {_pct(e.on_animal[colours])} of its top pixels on the "
                  f"animal, the normal model {_pct(e.on_animal[normal])}: "
                  + ("its maps look normal." if alike else
                     "its maps differ from the normal model's, but nothing in them says *colour*."))
    return (
        f"**The cage detector** calls {e.caged_dogs_as_cats[cages]} of {e.caged_dogs} caged dogs cats "
        f"(normal model: {e.caged_dogs_as_cats[normal]}), and {_pct(e.on_bars[cages])} of its top 0.5% "
        f"vanilla-gradient pixels lie on the bars (normal model: {_pct(e.on_bars[normal])}). A shortcut "
        f"with a place in the image shows up in the maps.\n\n"
        f"**The colour detector**'s shortcut has no place: colour is *on* the animal.{animal} Turn the "
        f"{e.uncaged} uncaged photos grey and {e.grey_flips[colours]} of its predictions change "
        f"(normal model: {e.grey_flips[normal]}): a test that changes the photo finds what the maps hid."
    )


MYSTERY_MEASURE_KEY = "mystery_measure"  # session state: the user asked for the measured numbers


def _ask_to_measure() -> None:
    st.session_state[MYSTERY_MEASURE_KEY] = True


def mystery_lesson(evidence: MysteryEvidence | None, revealed_all: bool,
                   measure: Callable[[MysteryProgress], MysteryEvidence] | None = None) -> None:
    """The finding of Adebayo et al., then our models' numbers behind a spoiler expander (open
    once every model is revealed).

    ``evidence``: the numbers when already known; else ``measure(progress)`` measures them (about
    ten seconds on a CPU), only once they are needed: every model revealed, or the expander's
    button clicked. A first visit never waits for them.
    """
    (a22, t22, u22), (a20, t20, u20) = ADEBAYO_2022, ADEBAYO_2020
    lesson(
        "Maps expose a shortcut that sits in one place, and stay quiet about one that does not. "
        f"{a22}, [*{t22}*]({u22}), planted spurious signals in training data and graded feature "
        "attributions, concept activations and training-point rankings: the methods they tested were "
        "ineffective when the spurious signal was **unknown** in advance, especially for signals with "
        "no visible place such as a background blur, and attributions sometimes flagged a dependence "
        "in models that had none. In their blinded user study, people mostly could not find an unknown "
        f"spurious signal from the explanations. In an earlier study, {a20}, [*{t20}*]({u20}), "
        "participants failed to identify defective models from attributions and relied mostly on the "
        "models' predictions. Searching a map for a bias you have not imagined is the hard case.",
        "mystery",
    )
    if evidence is None and measure is None:
        return
    with st.expander("Our mystery models, measured (spoilers)", expanded=revealed_all, icon=":material/analytics:"):
        if evidence is None:
            if not (revealed_all or st.session_state.get(MYSTERY_MEASURE_KEY)):
                st.caption("How often each model is fooled by cage bars and by colour, and where its top "
                           "pixels lie, over all the mystery photos.")
                st.button("Measure our three models", key="mystery_measure_button", on_click=_ask_to_measure,
                          icon=":material/analytics:", help="About ten seconds the first time; then kept.")
                return
            bar = st.progress(0.0, text="Measuring the mystery models…")

            def progress(done: int, total: int, name: str) -> None:
                bar.progress(done / max(total, 1), text=f"Measuring the mystery models: {done + 1} of {total}…")

            evidence = measure(progress)  # type: ignore[misc]  # not None: the return above
            bar.empty()
        st.markdown(mystery_text(evidence))
