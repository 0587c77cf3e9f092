"""Running the app under test: AppTest, a real server, a browser page (``from app_harness import texts``).

AppTest:
* ``texts(at)`` — all text of an AppTest run, for substring assertions;
* ``no_exception(at)`` / ``errors(at)`` — the run raised nothing / its ``st.error`` texts.

The photos:
* ``data_path()`` — the photos the app uses (``SALIENCY_DATA``, else the built-in ones);
  ``kaggle_path()`` — the cats-vs-dogs folder only (``SALIENCY_DATA``), else None.

The zoo:
* ``served(name)`` — zoo model ``name`` as the server serves it (eval, batch norms folded), loaded
  by the library alone: the independent reference for a page's numbers;
* ``zoo_loads(*names)`` — whether those zoo models (default: normal) load here;
* ``needs_trained(real)`` / ``needs_zoo(*names)`` — skip, with the reason, without trained weights.

A real server and browser:
* ``start_server()`` / ``stop_server(proc)`` — ``streamlit run dashboard/server.py`` on a free port;
* ``wait_for_app(page)`` — connected, script state ``notRunning``, no ``stSkeleton``;
* ``goto_page(page, base_url, url_path)`` — navigate to a page (URL path such as ``"occlusion"``);
* ``no_browser_exception(page)`` — the page shows no exception element;
* ``screenshot(page, name)`` — full-page PNG under ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from saliency_core import zoo
from saliency_core.data import BUILTIN_DIR

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "dashboard" / "app.py"
SERVER = REPO / "dashboard" / "server.py"  # what `make demo` and the host run: the app, warmed up at start
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic", "--disable-default-apps", "--disable-extensions", "--mute-audio",
]


def data_path() -> Path | None:
    """The demo photos the app uses: ``SALIENCY_DATA`` when set (None when that is no folder),
    else the built-in photos (None only if this installation lacks them)."""
    value = os.environ.get("SALIENCY_DATA")
    if value:
        return Path(value) if Path(value).is_dir() else None
    return BUILTIN_DIR if (BUILTIN_DIR / "MANIFEST.csv").is_file() else None


def kaggle_path() -> Path | None:
    """The cats-vs-dogs photos (``SALIENCY_DATA``), for tests about that set in particular."""
    value = os.environ.get("SALIENCY_DATA")
    return Path(value) if value and Path(value).is_dir() else None


def texts(at: Any) -> str:
    """All Markdown/HTML/caption/alert/heading text of an AppTest run, joined by newlines."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "html", "caption", "text", "info", "warning",
                 "error", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def no_exception(at: Any) -> None:
    assert not at.exception, [e.value for e in at.exception]


def errors(at: Any) -> list[str]:
    return [str(e.value) for e in at.error]


# --------------------------------------------------------------------------- the zoo


def served(name: str) -> Any:
    from saliency_core import zoo
    from saliency_core.zoo.fold import fold_batchnorm

    return fold_batchnorm(zoo.load(name).eval())


def zoo_loads(*names: str) -> bool:
    """Whether the zoo models ``names`` (default: normal) load here (weights trained and installed)."""
    try:
        for name in names or ("normal",):
            zoo.load(name)
        return True
    except Exception:  # noqa: BLE001 - weights not trained/installed here
        return False


def needs_trained(real: bool) -> None:
    if not real:
        pytest.skip("the zoo's trained weights are not installed (saliency-lab train --all)")


def needs_zoo(*names: str) -> None:
    if not zoo_loads(*names):
        pytest.skip("the zoo's trained weights are not installed (saliency-lab train --all)")


# --------------------------------------------------------------------------- real server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:  # noqa: S310 - localhost
            return r.read().decode().strip() == "ok"
    except OSError:
        return False


def start_server(env: dict[str, str] | None = None, attempts: int = 3,
                 timeout: float = 90) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start the app; returns (process, base URL, log file). Retries on a port clash."""
    last = ""
    for _ in range(attempts):
        port = free_port()
        fd, name = tempfile.mkstemp(prefix="streamlit-", suffix=".log")
        os.close(fd)
        log = Path(name)
        cmd = [
            sys.executable, "-m", "streamlit", "run", str(SERVER),
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ]
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, **(env or {})})
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _healthy(url):
                return proc, url, log
            time.sleep(0.25)
        last = log.read_text(errors="replace")[-3000:]
        stop_server(proc)
    raise RuntimeError(f"streamlit did not become healthy:\n{last}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --------------------------------------------------------------------------- browser


def wait_for_app(page: Any, timeout: float = 90_000) -> None:
    """Wait until the app is connected, its script has finished and no skeleton is left."""
    page.wait_for_selector("[data-testid='stAppViewContainer']", state="attached", timeout=timeout)
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']",
                           state="attached", timeout=timeout)
    page.wait_for_timeout(250)  # let a rerun that was just triggered flip the state to "running"
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",
                           state="attached", timeout=timeout)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout)


def goto_page(page: Any, base_url: str, url_path: str = "") -> None:
    """Open ``base_url/url_path`` and wait for the app."""
    page.goto(f"{base_url}/{url_path}", wait_until="domcontentloaded")
    wait_for_app(page)


def no_browser_exception(page: Any) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)


def screenshot(page: Any, name: str, max_height: int = 6000) -> Path:
    """A full-page PNG: Streamlit scrolls inside its main container, so the viewport is grown to
    the content's height first (capped at ``max_height``) and restored afterwards."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = page.viewport_size or {"width": 1400, "height": 1000}
    height = page.evaluate(
        "() => Math.max(...['[data-testid=stMain]', '[data-testid=stMainBlockContainer]']"
        ".map(s => document.querySelector(s)).filter(Boolean).map(e => e.scrollHeight), 0)"
    )
    page.set_viewport_size({"width": size["width"], "height": int(min(max(height + 40, size["height"]), max_height))})
    page.wait_for_timeout(1000)  # let the browser lay out and paint the newly visible images
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path



# ------------------------------------------------------------------------ phone width (400 x 800)
PHONE_WIDTH, PHONE_HEIGHT = 400, 800


def no_sideways_scroll(page: Any, width: int = PHONE_WIDTH) -> None:
    """Neither the document nor Streamlit's scrolling container (or the block in it) is wider than the viewport."""
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= width, f"the page is {wide} px wide at a {width} px viewport"
    for block in ("stMain", "stMainBlockContainer"):
        inner = page.evaluate(f"() => {{ const m = document.querySelector('[data-testid={block}]');"
                              " return m ? m.scrollWidth - m.clientWidth : 0 }")
        assert inner <= 0, f"{block} scrolls sideways by {inner} px"


def on_screen(locator: Any, width: int = PHONE_WIDTH) -> dict[str, float]:
    """Visible, and within the viewport's width once scrolled to; returns its box."""
    expect(locator).to_be_visible()
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= -0.5 and box["x"] + box["width"] <= width + 0.5, box
    return box
