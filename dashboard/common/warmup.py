"""Warm a new server up in the background: what the story's pages need, loaded before they ask.

A new server (a restart, a hosted demo waking up) has nothing loaded: not PyTorch, not the zoo,
not the decoded demo photos. The first page a reader sees (the introduction) needs none of that.
``dashboard/server.py`` calls :func:`start` when the server starts (and ``dashboard/app.py`` on
every run, for the bare script; only the first call starts anything), which starts one thread that
loads in story order through the same cached functions the pages call: PyTorch and the library,
the test sets and thumbnails of the Two models page (the page a reader opens second), its two
models, the Occlusion strip and its lesson's timing, the Gradients page's maps
(``gradient_view``), the Quadrants table of the default model, the other zoo models. Streamlit
computes a cached value once, so a page that needs a value the thread is still computing waits
for it instead of computing it twice. The thread touches no session and draws nothing; a failure
is logged and ends it (the pages then compute as they would have anyway).

``SALIENCY_WARMUP=0`` turns it off, and the pages' own background prefetching with it (Mystery
models computes every batch's maps for its Shuffle button): the tests do, so that no background
work competes with them.
"""

from __future__ import annotations

import logging
import os
import threading
import time

_LOG = logging.getLogger(__name__)
PREFIX = "saliency-lab-"  # the names of the app's background threads (this one, Mystery's prefetch)


class _Quiet(logging.Filter):
    """Drop Streamlit's "missing ScriptRunContext" warning for the app's background threads: they
    call the pages' cached functions on purpose, outside any session (one warning per call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (str(record.threadName).startswith(PREFIX) and "ScriptRunContext" in record.getMessage())


logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_Quiet())
_STARTED = threading.Event()
_DONE = threading.Event()
_GUARD = threading.Lock()


def enabled() -> bool:
    return os.environ.get("SALIENCY_WARMUP", "1").strip().lower() not in ("0", "false", "no", "off")


def start() -> bool:
    """Start the warm-up thread once per server; True when this call started it."""
    if not enabled():
        return False
    with _GUARD:
        if _STARTED.is_set():
            return False
        _STARTED.set()
    threading.Thread(target=_run, name=f"{PREFIX}warmup", daemon=True).start()
    return True


def wait(timeout: float | None = None) -> bool:
    """Block until the warm-up has finished (tests, benches); True when it has."""
    return _DONE.wait(timeout)


def _run() -> None:
    began = time.monotonic()
    try:
        warm()
        _LOG.info("warm-up finished in %.1f s", time.monotonic() - began)
    except Exception:  # noqa: BLE001 - a failed warm-up only means the pages compute it themselves
        _LOG.warning("warm-up stopped early", exc_info=True)
    finally:
        _DONE.set()


def warm() -> None:
    """Load and compute, in the order the story's pages need it (see the module's docstring)."""
    from dashboard.common import gradient_view
    from dashboard.common.demo_sets import demo_set_at, pairs_at
    from dashboard.common.lessons import occlusion_cost
    from dashboard.common.models import load_zoo_model, model_fingerprint, predict_set, zoo_names
    from dashboard.common.photos import default_status
    from dashboard.common.quadrant_table import N_PER_QUADRANT, quadrant_results
    from dashboard.common.widgets import thumbnails
    from saliency_core.data.frame import FRAME
    from saliency_core.zoo.efficientnet import forget_pretrained_state

    status = default_status()
    if not status.ok or status.path is None:
        return
    root = str(status.path)
    names = zoo_names()
    story = ("normal", "watermark-100")
    if all(name in names for name in story):
        # Two models first (the page a reader opens second): its test sets, their thumbnails and
        # predictions (shipped for the built-in photos: that page loads no model then)
        for cats, dogs in (("yes", "no"), ("no", "no"), ("no", "yes")):
            demo = demo_set_at(root, 25, cats, dogs)
            if dogs == "no":  # the two sets the page shows
                thumbnails(demo)
            for name in story:
                predict_set(name, demo)
    for name in story:
        if name in names:
            load_zoo_model(name)
    if all(name in names for name in story):
        demo_set_at(root, 3, "pairs", "pairs")  # the Occlusion and Gradients strip
        occlusion_cost("watermark-100", 18, FRAME)  # the Occlusion lesson's live timing (~1 s)
        gradient_view.warm(pairs_at(root, 6))  # the Gradients page's 10 maps (~0.2 s)
        # The Quadrants table (read from the shipped file for the built-in photos, else computed)
        quadrants = demo_set_at(root, N_PER_QUADRANT, "both", "both")
        quadrant_results("watermark-100", tuple(quadrants.key), model_fingerprint("watermark-100"), quadrants)
    # The other models, for Mystery models, Beyond and the Gradients grid's extra rows
    # (random-labels serves only a Dataset-audit recomputation: not loaded).
    for name in names:
        if name not in (*story, "random-labels"):
            load_zoo_model(name)
    forget_pretrained_state()  # every model the pages use is loaded: the ImageNet weights' cache goes (18 MB)
