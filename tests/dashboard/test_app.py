"""The app frame (``dashboard/app.py``): the sidebar, every page's start, ``saliency-lab demo``.

AppTest runs each page in-process; the ``e2e`` test renders every page in real chromium against
``streamlit run`` and saves its full-page screenshot under ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from app_harness import REPO, goto_page, no_browser_exception, no_exception, screenshot, wait_for_app
from playwright.sync_api import expect

from saliency_core.cli import main

# The pages that tell the explorable's story on the demo photos.
STORY_PAGES = ("views/two_models.py", "views/occlusion.py", "views/gradients.py", "views/quadrants.py")
# (file under dashboard/, URL path) for every page of the app; the first is the default page.
PAGES = [
    ("views/introduction.py", ""),
    ("views/two_models.py", "two_models"),
    ("views/occlusion.py", "occlusion"),
    ("views/gradients.py", "gradients"),
    ("views/quadrants.py", "quadrants"),
    ("views/mystery.py", "mystery"),
    ("views/beyond.py", "beyond"),
    ("views/dataset_audit.py", "dataset_audit"),
    ("views/your_model.py", "your_model"),
]


def test_sidebar_shows_data_and_backend(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test("views/two_models.py")  # a page that loads the library: the backend is named from then on
    no_exception(at)
    sidebar = "\n".join(str(e.value) for e in [*at.sidebar.success, *at.sidebar.caption])
    assert "photos" in sidebar
    assert "Kernel backend" in sidebar


def test_sidebar_without_data_says_how_to_get_it(app_test: Callable[..., Any], zoo: bool) -> None:
    at = app_test(data=False)
    no_exception(at)
    warning = "\n".join(str(e.value) for e in at.sidebar.warning)
    assert "SALIENCY_DATA" in warning and "built-in photos" in warning


@pytest.mark.parametrize("page", STORY_PAGES)
def test_page_without_data_shows_the_how_to(app_test: Callable[..., Any], zoo: bool, page: str) -> None:
    at = app_test(page, data=False)
    no_exception(at)
    info = "\n".join(str(e.value) for e in at.info)
    assert "No demo photos found" in info
    assert "SALIENCY_DATA" in info and "built-in photos" in info
    assert not at.image  # nothing else ran


@pytest.mark.parametrize("page", STORY_PAGES)
def test_every_page_runs(app_test: Callable[..., Any], needs_data: Path, zoo: bool, page: str) -> None:
    at = app_test(page)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert at.title


def test_demo_command_runs_the_app_with_the_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, cwd, env: calls.append((cmd, env)) or 0)
    assert main(["demo", "--port", "8765", "--data", str(tmp_path), "--headless"]) == 0
    cmd, env = calls[0]
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("dashboard/server.py")
    assert "8765" in cmd and "--server.headless" in cmd
    assert env["SALIENCY_DATA"] == str(tmp_path.resolve())
    assert main(["demo", "--data", str(tmp_path / "missing")]) == 2  # a plain error, no traceback
    assert main(["demo", "--port", "0"]) == 2
    assert len(calls) == 1


@pytest.mark.e2e
@pytest.mark.parametrize(("file", "url_path"), PAGES, ids=[Path(f).stem for f, _ in PAGES])
def test_page_renders(streamlit_server: str, browser_page: Any, file: str, url_path: str) -> None:
    page = browser_page
    goto_page(page, streamlit_server, url_path)
    wait_for_app(page)  # a deep link into a fresh server reruns once through app.py
    no_browser_exception(page)
    expect(page.get_by_test_id("stSidebarNav")).to_be_visible()
    expect(page.locator("h1").first).to_be_visible()
    screenshot(page, Path(file).stem)


FIRST_PAGE = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("dashboard/app.py", default_timeout=60)
at.run()
assert not at.exception, at.exception
print("torch" in sys.modules, "saliency_core.kernels" in sys.modules)
"""


def test_the_first_page_loads_no_pytorch() -> None:
    """A new server's first page (the introduction, sidebar included) shows before PyTorch has
    loaded: the warm-up thread loads it in the background while the reader reads."""
    env = {**os.environ, "SALIENCY_WARMUP": "0"}
    done = subprocess.run([sys.executable, "-c", FIRST_PAGE], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["False", "False"], done.stdout

