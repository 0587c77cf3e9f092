"""The server's warm-up thread (``dashboard.common.warmup``): it starts once, can be turned off,
and fills the caches the pages read (the same cached functions, so a page finds the result)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from app_harness import needs_zoo

import dashboard.common.warmup as warmup


@pytest.fixture
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warmup, "_STARTED", threading.Event())
    monkeypatch.setattr(warmup, "_DONE", threading.Event())


def test_it_starts_once_per_server(fresh_state: None, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setenv("SALIENCY_WARMUP", "1")
    monkeypatch.setattr(warmup, "warm", lambda: calls.append(1))
    assert warmup.start() is True
    assert warmup.start() is False
    assert warmup.wait(10)
    assert calls == [1]


@pytest.mark.parametrize("value", ["0", "off", "false"])
def test_it_can_be_turned_off(fresh_state: None, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SALIENCY_WARMUP", value)
    monkeypatch.setattr(warmup, "warm", lambda: pytest.fail("warm-up ran while turned off"))
    assert warmup.start() is False
    assert not warmup.wait(0)


def test_a_failing_warm_up_ends_quietly(fresh_state: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALIENCY_WARMUP", "1")

    def boom() -> None:
        raise RuntimeError("no zoo here")

    monkeypatch.setattr(warmup, "warm", boom)
    assert warmup.start()
    assert warmup.wait(10)  # finished (the pages compute as they would have)


def test_it_fills_the_caches_the_pages_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    needs_zoo("normal", "watermark-100")
    from dashboard.common import diskcache
    from dashboard.common.lessons import occlusion_cost
    from dashboard.common.quadrant_table import quadrant_results

    monkeypatch.delenv("SALIENCY_DATA", raising=False)
    monkeypatch.setenv("SALIENCY_CACHE", str(tmp_path))
    quadrant_results.clear()
    occlusion_cost.clear()
    before = diskcache.BUILDS["quadrants"]
    warmup.warm()
    assert diskcache.BUILDS["quadrants"] == before  # the default model's table ships: read, not computed
    from dashboard.common import quadrant_table
    from dashboard.common.demo_sets import demo_set_at
    from dashboard.common.models import model_fingerprint
    from saliency_core.data.builtin import builtin_dir

    def no_disk(*_: object) -> None:
        raise AssertionError("the page's table should be in memory already")

    monkeypatch.setattr(quadrant_table, "cached_frame", no_disk)
    demo = demo_set_at(str(builtin_dir()), quadrant_table.N_PER_QUADRANT, "both", "both")
    table = quadrant_results("watermark-100", tuple(demo.key), model_fingerprint("watermark-100"), demo)
    assert len(table) == len(demo)  # in the page's cache, filled by the warm-up
    cost = occlusion_cost("watermark-100", 18, 128)  # the timing the Occlusion lesson quotes
    assert cost.passes == 18 * 18 + 1 and cost.grid_seconds > 0 and cost.gradient_seconds > 0
    # the Gradients page's default maps: in the cache, so nothing is explained again
    from dashboard.common import explanations, gradient_view
    from dashboard.common.demo_sets import pairs_at

    monkeypatch.setattr(explanations, "explain_locked", no_disk)
    pairs = pairs_at(str(builtin_dir()))
    key = (*pairs.key, pairs.ids[gradient_view.PHOTO])
    for name in gradient_view.MODELS:
        for method in gradient_view.METHODS:
            assert explanations.saliency_map(name, key, pairs.image(gradient_view.PHOTO), method).shape == (128, 128)


def test_background_threads_do_not_flood_the_log(caplog: pytest.LogCaptureFixture) -> None:
    """Streamlit's "missing ScriptRunContext" warning is dropped for the app's background threads
    only: a warm-up calls many cached functions outside any session."""
    import logging

    logger = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    message = "Thread %r: missing ScriptRunContext! This warning can be ignored when running in bare mode."

    def warn() -> None:
        logger.warning(message, threading.current_thread().name)

    for name in (f"{warmup.PREFIX}warmup", "some-other-thread"):
        thread = threading.Thread(target=warn, name=name)
        thread.start()
        thread.join()
    shown = [r.threadName for r in caplog.records if "ScriptRunContext" in r.getMessage()]
    assert shown == ["some-other-thread"]



def test_the_server_starts_it_before_any_reader_connects(tmp_path: Path) -> None:
    """``streamlit run dashboard/server.py`` (``make demo``, the host) warms up with no browser
    connected: the Two models page's test sets land in the cache folder (a server of the bare
    script would wait for its first page run)."""
    needs_zoo("normal", "watermark-100")
    from app_harness import start_server, stop_server

    env = {"SALIENCY_WARMUP": "1", "SALIENCY_CACHE": str(tmp_path), "SALIENCY_DATA": ""}
    proc, _, log = start_server(env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list((tmp_path / "dashboard").glob("demo-*.pt")):
            assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
            time.sleep(0.25)
        assert list((tmp_path / "dashboard").glob("demo-*.pt")), log.read_text(errors="replace")[-2000:]
    finally:
        stop_server(proc)
