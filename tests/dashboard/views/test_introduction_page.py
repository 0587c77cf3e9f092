"""The Introduction page: first in the navigation, the question, the tour, the essay, the papers
and the photos' credit, and the link on to the story."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app_harness import no_exception, texts

from dashboard.common.story import PATHS

INTRO = "views/introduction.py"


def test_introduction_is_the_default_page(app_test: Callable[..., Any]) -> None:
    at = app_test()  # no page switched to: the navigation's default
    no_exception(at)
    assert "Can saliency maps catch a model cheating?" in [t.value for t in at.title]


def test_introduction_links_the_essay_papers_and_credit(app_test: Callable[..., Any]) -> None:
    at = app_test(INTRO)
    no_exception(at)
    assert not at.error
    text = texts(at)
    assert "https://pair.withgoogle.com/explorables/saliency/" in text
    assert "Sanity Checks for Saliency Maps" in text and "https://arxiv.org/abs/1810.03292" in text
    assert "Post hoc Explanations may be Ineffective" in text and "https://arxiv.org/abs/2212.04629" in text
    assert "Global Saliency" in text
    assert "Oxford-IIIT Pet" in text and "CC BY-SA 4.0" in text and "Parkhi" in text
    # the tour names every other page of the story, in the story's order
    tour = [line for line in text.splitlines() if line[:1].isdigit() and ". **" in line]
    assert len(tour) == len(PATHS) - 1
    links = [(link.value, link.proto.page) for link in at.page_link]
    assert links == [("Next: Two models", "two_models")]
