"""A fresh clone with nothing configured: every page runs on the built-in photos, and the sidebar
says which photos are in use (and offers the built-in ones beside ``SALIENCY_DATA``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from app_harness import no_exception, texts

from dashboard.common.photos import BUILTIN, PHOTO_SET_KEY
from saliency_core.data import BUILTIN_DIR

PAGES = ("views/two_models.py", "views/occlusion.py", "views/gradients.py", "views/quadrants.py",
         "views/mystery.py", "views/your_model.py", "views/dataset_audit.py", "views/introduction.py",
         "views/beyond.py")
STORY_PAGES = PAGES[:5]  # the pages that show photos


def sidebar_text(at: Any) -> str:
    return "\n".join(str(e.value) for e in [*at.sidebar.success, *at.sidebar.caption, *at.sidebar.warning])


@pytest.mark.parametrize("page", PAGES, ids=[Path(p).stem for p in PAGES])
def test_every_page_runs_on_the_builtin_photos(app_test: Callable[..., Any], zoo: bool, page: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALIENCY_DATA", raising=False)
    at = app_test(page)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert at.title
    assert "No demo photos found" not in texts(at)
    sidebar = sidebar_text(at)
    assert "Built-in photos (Oxford-IIIT Pet, CC BY-SA 4.0): 880 photos" in sidebar
    assert "ATTRIBUTION.md" in sidebar and not at.sidebar.warning
    if page in STORY_PAGES:  # the story is told with photos (st.image, or data URIs in HTML or a component)
        assert at.image or any("data:image/" in str(m.value) for m in [*at.markdown, *at.html]) \
            or any("data:image/" in c.proto.json for c in at.get("bidi_component"))


def test_the_sidebar_offers_the_builtin_photos_beside_saliency_data(
        app_test: Callable[..., Any], zoo: bool, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "MANIFEST.csv").write_text("file,species,split\ncat/a.jpg,cat,test\ndog/b.jpg,dog,test\n")
    at = app_test("views/your_model.py", data=folder)  # a page that does not read the (fake) photos
    no_exception(at)
    assert at.sidebar.radio(key=PHOTO_SET_KEY).value == "configured"  # SALIENCY_DATA first when set
    assert "Your photos (`SALIENCY_DATA`): 2" in sidebar_text(at)
    at.sidebar.radio(key=PHOTO_SET_KEY).set_value(BUILTIN).run()
    no_exception(at)
    assert "Built-in photos (Oxford-IIIT Pet, CC BY-SA 4.0): 880 photos" in sidebar_text(at)


def test_the_builtin_photos_are_the_pages_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.common.photos import data_status

    monkeypatch.delenv("SALIENCY_DATA", raising=False)
    status = data_status()
    assert status.ok and status.builtin and status.path == BUILTIN_DIR and status.n_images == 880
