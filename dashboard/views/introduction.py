"""Introduction: the question the explorable asks, the order in which the app answers it, the
essay and the papers behind it, and where the built-in photos come from.

No models and no photos are loaded here, so the first page opens at once.
"""

from __future__ import annotations

import streamlit as st

from saliency_core.data.builtin import TITLE as BUILTIN_TITLE

ESSAY_URL = "https://pair.withgoogle.com/explorables/saliency/"
PETS_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/"
LICENCE_URL = "https://creativecommons.org/licenses/by-sa/4.0/"

# (page file, what it shows) in the order the app tells the story.
TOUR: tuple[tuple[str, str, str], ...] = (
    ("views/two_models.py", "Two models",
     "two cat/dog classifiers that score the same on clean photos; one of them learned that a "
     "watermark means *cat*."),
    ("views/occlusion.py", "Occlusion",
     "cover part of a photo and watch the prediction move; sweep a grid to see which patches matter."),
    ("views/gradients.py", "Gradients",
     "the same question answered in one backward pass: how much each pixel nudges the score."),
    ("views/quadrants.py", "Quadrants",
     "from one photo to a whole test set: how much of each model's attention falls on the watermark, "
     "for cats and dogs, with and without it."),
    ("views/mystery.py", "Mystery models",
     "three models, two of them cheating in ways you have not been told; can the maps tell you which?"),
    ("views/beyond.py", "Beyond simple saliency",
     "checks on the maps themselves, tests that change the photo instead, and other families of "
     "explanations."),
    ("views/dataset_audit.py", "Dataset audit",
     "the same measurements over a whole photo set and every model, as one report."),
    ("views/your_model.py", "Your model & images",
     "upload a model and photos of your own and run the same tools on them."),
)

# (authors, year, title, link or None). Links only where the identifier is known for sure.
PAPERS: tuple[tuple[str, str, str, str | None], ...] = (
    ("Adebayo et al.", "2018",
     "Sanity Checks for Saliency Maps", "https://arxiv.org/abs/1810.03292"),
    ("Adebayo et al.", "2022",
     "Post hoc Explanations may be Ineffective for Detecting Unknown Spurious Correlation",
     "https://arxiv.org/abs/2212.04629"),
    ("Pfau et al.", "2019",
     "Global Saliency: Aggregating Saliency Maps to Assess Dataset Artefact Bias", None),
)

st.title("Can saliency maps catch a model cheating?")
st.markdown(
    "An image classifier can score well for the wrong reason. If most cat photos in its training "
    "set happen to carry a watermark, a model may learn *watermark ⇒ cat* and still look "
    "excellent on a test set with the same quirk. Nobody told it to, and nobody may notice. "
    "**Saliency maps** promise to show which pixels a prediction rests on. The question this app "
    "explores, following PAIR's explorable, is whether that promise holds: *can saliency maps "
    "reveal a bias the model picked up by accident, before it does harm?*"
)
st.markdown(
    "Everything here runs live: real photos of cats and dogs, small networks "
    "trained for this app (one clean, some taught a shortcut on purpose), and saliency computed "
    "as you click. The answer turns out to be *sometimes*: the maps expose a shortcut that sits in "
    "one place in the image, and stay silent about one that does not."
)

st.header("The tour")
st.markdown("\n".join(f"{i}. **{label}**: {what}" for i, (_, label, what) in enumerate(TOUR, start=1)))
st.caption("Each page ends with a link to the next one (the first is at the foot of this page); "
           "the sidebar jumps anywhere.")

st.header("Read more")
st.markdown(
    f"- The essay this app retells: **Searching for Unintended Biases With Saliency**, "
    f"by Bertrand, Pearce and Thain (PAIR, 2022): [{ESSAY_URL}]({ESSAY_URL})"
)
st.markdown("\n".join(
    f"- {authors} ({year}). " + (f"[*{title}*]({link})" if link else f"*{title}*") + "."
    for authors, year, title, link in PAPERS
))
st.caption(
    "The first paper asks whether a map changes at all when the model is scrambled; the second "
    "measures how often maps miss a shortcut the model relies on; the third adds up saliency "
    "over a whole data set. The *Beyond simple saliency* and *Dataset audit* pages run these tests."
)

st.header("The photos")
st.markdown(
    f"The built-in photos ({BUILTIN_TITLE}) are a balanced selection from the "
    f"[Oxford-IIIT Pet Dataset]({PETS_URL}): O. M. Parkhi, A. Vedaldi, A. Zisserman and "
    "C. V. Jawahar, *Cats and Dogs*, CVPR 2012. They are licensed under "
    f"[CC BY-SA 4.0]({LICENCE_URL}); the copyright stays with the original photographers. "
    "Saliency Lab cropped them square, resized them and re-encoded them; the watermarks, cage "
    "bars and colour changes are added by the app. Details: `saliency_core/data/builtin_photos/ATTRIBUTION.md`."
)
