"""The story's "Next" links: every page of the story ends with a link to the page after it, and
the order agrees with the navigation in ``dashboard/app.py``."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from app_harness import APP, no_exception

from dashboard.common.story import PATHS, STORY, next_page


def app_pages() -> list[str]:
    """The files of ``PAGES`` in ``dashboard/app.py``, read without running the app."""
    tree = ast.parse(APP.read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "PAGES":
            return [elt.elts[0].value for elt in node.value.elts]  # type: ignore[attr-defined]
    raise AssertionError("PAGES not found in app.py")


def test_the_story_is_the_navigation_order() -> None:
    assert app_pages() == list(PATHS)
    assert PATHS[0] == "views/introduction.py"
    assert PATHS.index("views/beyond.py") == PATHS.index("views/mystery.py") + 1


def test_next_page_accepts_any_spelling() -> None:
    assert next_page("views/occlusion.py") == ("views/gradients.py", "Gradients")
    assert next_page(Path("/somewhere/dashboard/views/occlusion.py"))[0] == "views/gradients.py"
    assert next_page("occlusion")[0] == "views/gradients.py"
    assert next_page(PATHS[-1])[0] == PATHS[0]  # the last page leads back to the start
    assert next_page("views/not_a_page.py") is None


@pytest.mark.parametrize(("page", "following"), list(zip(PATHS, PATHS[1:] + PATHS[:1])),
                         ids=[Path(p).stem for p in PATHS])
def test_every_page_links_to_the_next(app_test: Callable[..., Any], needs_data: Path, zoo: bool,
                                      page: str, following: str) -> None:
    at = app_test(page, timeout=180)
    no_exception(at)
    links = [link for link in at.page_link if link.value.startswith(("Next: ", "Back to the start: "))]
    assert len(links) == 1, [link.value for link in at.page_link]
    label = dict(STORY)[following]
    assert links[0].value.endswith(label)
    url_path = "" if following == PATHS[0] else Path(following).stem  # the default page lives at "/"
    assert links[0].proto.page == url_path  # the URL path of the page it opens
    at.switch_page(following)  # and that page is there and runs
    at.run()
    no_exception(at)
