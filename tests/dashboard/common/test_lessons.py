"""The story's questions and lessons: the numbers they tell are the numbers measured.

The measuring functions are checked against plain re-computations (hide the cells by hand and run
the model; pick the example by hand); the texts against their inputs (change a number, the text
follows); the Occlusion and Quadrants lessons run in AppTest scripts the way those pages call them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from app_harness import no_exception, texts
from streamlit.testing.v1 import AppTest

from dashboard.common import lessons
from saliency_core.zoo.architecture import DemoCNN


def model_and_image(seed: int = 0) -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    return DemoCNN(width=8).eval(), torch.rand(3, 128, 128)


# ------------------------------------------------------------------------------------ occlusion


def test_box_cells_are_the_cells_that_touch_the_box() -> None:
    n, size, box = 18, 128, (7, 110, 54, 121)
    edges = np.arange(n + 1) * size // n
    expected = [r * n + c for r in range(n) for c in range(n)
                if edges[c] < box[2] and box[0] < edges[c + 1] and edges[r] < box[3] and box[1] < edges[r + 1]]
    assert lessons.box_cells(n, size, box) == expected
    assert len(expected) == 7 * 3  # columns 1-7 (7..56 px) x rows 15-17 (106..128 px)


def test_grid_miss_matches_hiding_the_cells_by_hand() -> None:
    model, image = model_and_image()
    n, box = 6, (20, 90, 70, 120)
    miss = lessons.measure_grid_miss(model, image, box, n)
    with torch.no_grad():
        base = torch.softmax(model(image[None]), 1)[0]
        k = int(base.argmax())
        edges = np.arange(n + 1) * 128 // n
        changes, cell_preds = [], []
        for cell in range(n * n):
            r, c = divmod(cell, n)
            x = image.clone()
            x[:, edges[r]:edges[r + 1], edges[c]:edges[c + 1]] = 0
            p = torch.softmax(model(x[None]), 1)[0]
            changes.append(float(p[k] - base[k]))
            cell_preds.append(int(p.argmax()))
        x = image.clone()
        for cell in lessons.box_cells(n, 128, box):
            r, c = divmod(cell, n)
            x[:, edges[r]:edges[r + 1], edges[c]:edges[c + 1]] = 0
        together = torch.softmax(model(x[None]), 1)[0]
    assert miss.n == n and miss.predicted == ("cat", "dog")[k]
    assert miss.base == pytest.approx(float(base[k]), abs=1e-5)
    assert miss.best_single == pytest.approx(max(abs(v) for v in changes), abs=1e-5)
    assert miss.all_box == pytest.approx(float(together[k] - base[k]), abs=1e-5)
    assert miss.box_cells == len(lessons.box_cells(n, 128, box))
    assert miss.flips_single == any(p != k for p in cell_preds)
    assert miss.flips_all == (int(together.argmax()) != k)


def test_occlusion_text_tells_the_measured_numbers() -> None:
    miss = lessons.GridMiss(18, "cat", 0.92, 0.036, 24, -0.61, False, True)
    cost = lessons.OcclusionCost(325, 0.40, 0.02)
    text = lessons.occlusion_text(miss, cost)
    for part in ("18×18", "3.6 points", "flips nothing", "24 cells", "-61.0 points", "the prediction flips",
                 "325 forward passes", "0.40 s", "0.020 s", "20×"):
        assert part in text, part
    other = lessons.occlusion_text(miss._replace(best_single=0.5, flips_single=True, flips_all=False), cost)
    assert "50.0 points" in other and "flips the prediction" in other and "prediction holds" in other
    assert "has no watermark; the box where it would be spans **24 cells**" in lessons.occlusion_text(
        miss, cost, marked=False)


def occlusion_script() -> None:
    import streamlit as st

    from dashboard.common.demo_sets import occlusion_pairs
    from dashboard.common.lessons import occlusion_lesson, occlusion_question

    pairs = occlusion_pairs(6)
    i = int(st.session_state.get("which", 1))
    occlusion_question()
    occlusion_lesson("watermark-100", (*pairs.key, pairs.ids[i]), pairs.images[i], pairs.boxes[i].tolist(), 18)


def test_the_occlusion_lesson_measures_the_photo_on_show(needs_data: Path, zoo: bool) -> None:
    from dashboard.common.demo_sets import occlusion_pairs
    from dashboard.common.models import load_zoo_model

    at = AppTest.from_function(occlusion_script, default_timeout=120)
    at.session_state["which"] = 1  # a watermarked photo
    at.run()
    no_exception(at)
    first = texts(at)
    assert "what must you hide to flip the watermark model?" in first.lower()
    assert "325 forward passes" in first
    pairs = occlusion_pairs(6)
    expected = lessons.measure_grid_miss(load_zoo_model("watermark-100"), pairs.images[1], pairs.boxes[1].tolist(), 18)
    assert f"{100 * expected.best_single:.1f} points" in first
    assert f"{100 * expected.all_box:+.1f} points" in first
    assert f"{expected.box_cells} cells" in first

    at.session_state["which"] = 3  # another photo: other numbers
    at.run()
    no_exception(at)
    other = lessons.measure_grid_miss(load_zoo_model("watermark-100"), pairs.images[3], pairs.boxes[3].tolist(), 18)
    assert f"{100 * other.all_box:+.1f} points" in texts(at)
    assert texts(at) != first


# ------------------------------------------------------------------------------------ quadrants
SHARES = dict(zip(lessons.QUADRANT_NAMES, (0.62, 0.55, 0.12, 0.08), strict=True))


LOW = dict(zip(lessons.QUADRANT_NAMES, (0.02, 0.01, 0.03, 0.0), strict=True))
MIXED = dict(zip(lessons.QUADRANT_NAMES, (0.35, 0.25, 0.10, 0.05), strict=True))


@pytest.mark.parametrize(("percent", "shares", "words"), [
    (0, LOW, "0%: the model looks at the animal, in every quadrant"),
    (100, SHARES, "100%: the model looks at the mark"),
    (50, MIXED, "50%: hard to tell"),
    (50, SHARES, "ours is not"),
    (25, SHARES, "25% of its training cats"),
])
def test_quadrant_narratives_follow_the_shares(percent: int, shares: dict[str, float], words: str) -> None:
    text = lessons.quadrant_text(percent, shares)
    assert words in text
    for q in lessons.QUADRANT_NAMES:
        assert f"{100 * shares[q]:.0f}%" in text
    changed = lessons.quadrant_text(percent, {**shares, "cats with watermark": 0.71})
    assert "71%" in changed and changed != text


def test_the_verdict_is_measured_not_the_explorables() -> None:
    assert "looks at the mark" in lessons.quadrant_text(0, SHARES)  # a 0% model that did look would be told so
    assert "hard to tell" not in lessons.quadrant_text(50, SHARES)
    text = lessons.quadrant_text(100, SHARES)
    assert f"{(0.62 + 0.55) / (0.12 + 0.08):.1f}× as much as" in text and "weaker" in text


def test_find_missing_picks_the_least_salient_misclassified_clean_cat() -> None:
    frame = pd.DataFrame({
        "id": ["a", "b", "c", "d", "e", "f"],
        "truth": ["cat", "cat", "cat", "cat", "dog", "cat"],
        "watermarked": [False, False, True, False, False, False],
        "predicted": ["dog", "dog", "dog", "cat", "dog", "dog"],
        "confidence": [0.9, 0.8, 0.7, 0.6, 0.9, 0.99],
        "share": [0.10, 0.02, 0.0, 0.0, 0.0, 0.05],
    })
    assert lessons.find_missing(frame)["id"] == "b"  # c is watermarked, d right, e a dog
    assert lessons.find_missing(frame.assign(predicted="cat")) is None


def missing_script() -> None:
    import pandas as pd
    import streamlit as st

    from dashboard.common.demo_sets import quadrant_set
    from dashboard.common.lessons import missing_lesson, quadrant_narrative, quadrants_question
    from dashboard.common.models import CLASSES, predict_set

    demo = quadrant_set(50)
    probs = predict_set("watermark-100", demo)
    pred = probs.argmax(1)
    frame = pd.DataFrame({"id": demo.ids, "truth": demo.labels, "watermarked": demo.watermarked,
                          "predicted": [CLASSES[k] for k in pred], "confidence": probs.max(1),
                          "share": st.session_state["shares"]})
    quadrants_question()
    quadrant_narrative(100, st.session_state["means"])
    missing_lesson("watermark-100", demo, frame)


def test_the_missing_example_is_found_live_and_drawn(needs_data: Path, zoo: bool) -> None:
    from dashboard.common.demo_sets import quadrant_set
    from dashboard.common.models import CLASSES, predict_set

    demo = quadrant_set(50)
    pred = predict_set("watermark-100", demo).argmax(1)
    clean_cats = [i for i in range(len(demo)) if demo.labels[i] == "cat" and not demo.watermarked[i]]
    wrong = [i for i in clean_cats if CLASSES[pred[i]] != "cat"]
    shares = np.linspace(0.5, 0.9, len(demo))
    if wrong:
        shares[wrong[-1]] = 0.004  # make the last misclassified clean cat the least salient one
    at = AppTest.from_function(missing_script, default_timeout=120)
    at.session_state["shares"] = shares.tolist()
    at.session_state["means"] = dict(SHARES)
    at.run()
    no_exception(at)
    text = texts(at)
    assert "looks at the mark" in text and "62%" in text
    if not wrong:
        assert "gets all" in text and not at.image
        return
    assert f"calls **{len(wrong)} of {len(clean_cats)}**" in text
    assert demo.ids[wrong[-1]] in text and "only **0%**" in text
    assert len(at.image) == 1


# -------------------------------------------------------------------------------------- two models


def test_two_models_text_follows_the_scores() -> None:
    scores = pd.DataFrame({"n": [50, 50, 50], "normal": [44, 43, 41], "watermark-100": [49, 25, 0],
                           "normal cats": [21, 20, 20], "watermark-100 cats": [24, 0, 0]},
                          index=pd.Index(["consistent", "clean", "swapped"], name="set"))
    text = lessons.two_models_text(scores)
    for part in ("**44/50** for A", "**49/50** for B", "would pick B", "drops to **25/50**", "0 of 25 cats",
                 "B gets **0/50**", "(A: 41/50)"):
        assert part in text, part
    even = scores.copy()
    even.loc["consistent", "watermark-100"] = 44
    assert "just as accurate as" in lessons.two_models_text(even)


def test_mystery_text_follows_the_evidence() -> None:
    e = lessons.MysteryEvidence({"cages": 5, "colours": 2, "normal": 1}, 5,
                                {"cages": 0.27, "colours": 0.1, "normal": 0.14},
                                {"cages": 0.5, "colours": 0.55, "normal": 0.87},
                                {"cages": 0, "colours": 4, "normal": 1}, 10)
    text = lessons.mystery_text(e)
    for part in ("5 of 5 caged dogs", "(normal model: 1)", "27%", "14%", "55%", "87%", "4 of its predictions",
                 "nothing in them says *colour*"):
        assert part in text, part
    alike = lessons.mystery_text(e._replace(on_animal={"cages": 0.5, "colours": 0.8, "normal": 0.87}))
    assert "its maps look normal" in alike
    no_masks = lessons.mystery_text(e._replace(on_animal={k: float("nan") for k in e.on_animal}))
    assert "on the animal" not in no_masks


def test_lesson_boxes_are_keyed() -> None:
    def script() -> None:
        from dashboard.common.lessons import lesson, question

        question("Why?", "demo")
        lesson("Because.", "demo")

    at = AppTest.from_function(script)
    at.run()
    no_exception(at)
    assert [m.value for m in at.markdown] == [":material/help: **The question.** Why?",
                                              ":material/school: **The lesson.** Because."]
