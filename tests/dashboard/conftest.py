"""Dashboard fixtures (plain helpers live in ``app_harness``; import them from there).

The tests mirror ``dashboard/``: ``test_app.py`` the frame (``app.py``), ``views/test_<page>_page.py``
one page each (AppTest, and its browser tests marked ``e2e``), ``common/`` the shared modules.

* ``app_test`` — factory ``app_test(page=None, *, data=True, state=None, run=True)`` → an AppTest
  of ``dashboard/app.py`` (``default_timeout=60``): ``SALIENCY_DATA`` from the environment (or a
  folder without photos when ``data=False``, or the given Path), session keys pre-seeded from
  ``state``, switched to ``page`` (e.g. ``"views/occlusion.py"``) and run.
* ``needs_data`` — the photo folder the app uses (``SALIENCY_DATA``, else the built-in photos).
* ``zoo`` — True with the trained zoo; False with seeded random stand-ins under the zoo's names.
* ``streamlit_server`` (session scope) — base URL of ``streamlit run dashboard/server.py`` on a free
  localhost port (headless, usage stats off, no file watcher), healthy on ``/_stcore/health``.
* ``browser_page`` — a fresh Playwright page (1400×1000) in Debian's ``chromium``
  (``shutil.which``; never ``playwright install``); skips with the reason when it is missing.
* ``wait_for_app`` — the helper function itself, for tests that prefer a fixture.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
import torch
from app_harness import APP, CHROMIUM_ARGS, PHONE_HEIGHT, PHONE_WIDTH, data_path, start_server, stop_server, zoo_loads
from app_harness import wait_for_app as _wait_for_app
from playwright.sync_api import sync_playwright
from streamlit.testing.v1 import AppTest

from saliency_core import zoo as zoo_module
from saliency_core.zoo.architecture import DemoCNN

ZOO_NAMES = ("normal", "watermark-25", "watermark-50", "watermark-75", "watermark-100", "cages", "colours")


@pytest.fixture
def needs_data() -> Path:
    """The photos the app uses: SALIENCY_DATA when set, else the built-in photos."""
    path = data_path()
    if path is None:
        pytest.skip("SALIENCY_DATA is not a folder, and the built-in photos are missing")
    return path


@pytest.fixture
def zoo(monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    """True with the trained zoo; False with seeded random ``DemoCNN``s under the zoo's names, so
    the page logic is tested either way (the numbers are not the point then).

    Streamlit's caches are cleared around each test, so models (real or stand-in) and the results
    computed with them never leak between tests.
    """
    st.cache_resource.clear()
    st.cache_data.clear()
    real = zoo_loads(*ZOO_NAMES)
    if not real:
        def fake_load(name: str) -> torch.nn.Module:
            torch.manual_seed(sum(map(ord, name)))
            return DemoCNN(width=8).eval()

        monkeypatch.setattr(zoo_module, "load", fake_load)
        monkeypatch.setattr(zoo_module, "names", lambda: list(ZOO_NAMES))
    yield real
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def app_test(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Any]:
    """Factory: ``app_test(page=None, *, data=True, state=None, run=True, timeout=60) -> AppTest``."""

    def make(page: str | None = None, *, data: bool | Path = True, state: dict[str, Any] | None = None,
             run: bool = True, timeout: float = 60) -> AppTest:
        if data is False:
            empty = tmp_path / "no-photos"
            empty.mkdir(exist_ok=True)
            monkeypatch.setenv("SALIENCY_DATA", str(empty))
        elif isinstance(data, Path):
            monkeypatch.setenv("SALIENCY_DATA", str(data))
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        for key, value in (state or {}).items():
            at.session_state[key] = value
        if page is not None:
            at.switch_page(page)
        if run:
            at.run()
        return at

    return make


@pytest.fixture(scope="session")
def streamlit_server() -> Iterator[str]:
    """Base URL of ``streamlit run dashboard/server.py``: one server for every browser test."""
    proc, url, log = start_server()
    try:
        yield url
    finally:
        stop_server(proc)
        log.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (`apt-get install chromium`, or `make browser`)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def _page(chromium_browser: Any, width: int, height: int, timeout_ms: int) -> Iterator[Any]:
    """A fresh page in its own browser context, closed afterwards."""
    context = chromium_browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def browser_page(chromium_browser: Any) -> Iterator[Any]:
    """A fresh page in its own browser context (1400×1000 viewport, 60 s default timeout)."""
    with _page(chromium_browser, 1400, 1000, 60_000) as page:
        yield page


@pytest.fixture
def wait_for_app() -> Callable[..., None]:
    return _wait_for_app


@pytest.fixture
def phone(chromium_browser: Any) -> Iterator[Any]:
    """A chromium page at phone size (400 x 800, 120 s default timeout)."""
    with _page(chromium_browser, PHONE_WIDTH, PHONE_HEIGHT, 120_000) as page:
        yield page
