"""How fast and lean the dashboard is: cold and warm times per page, and the server's peak memory.

    .venv/bin/python bench/dashboard.py            # the working tree, with an empty SALIENCY_CACHE
    .venv/bin/python bench/dashboard.py --clone    # a fresh clone of HEAD (+ uncommitted files)

Starts ``streamlit run dashboard/server.py`` headless (this venv's Python) with an empty
``SALIENCY_CACHE`` and no ``SALIENCY_DATA`` (the built-in photos) and drives Debian's chromium
(Playwright) through every page, as a reader does: the first page by its URL, then each next one
by its link in the sidebar, in one tab. A page's time runs from the click until its script has
finished: its own "Next" link (the last thing a page writes) is on screen, the script is idle and
no skeleton is left. *cold*: the first visit of each page on the fresh server; *warm*: the median
of the next rounds of visits (``--warm-rounds``, default 3: one visit's time on this shared machine
is noise-prone; the slowest is printed beside). *new tab*: each page opened by its URL in a new tab afterwards, which adds
Streamlit's start in the browser (loading its scripts, connecting) to the page's own time.
Then the story's clicks (:data:`INTERACTIONS`), the first time and warm. The memory is the
resident set size of the streamlit process and all its children, summed, sampled every 0.1 s
from /proc; the peak is printed. Goals on the dev machine (cold and warm as above): first visit
<= 3 s, warm <= 1 s, peak <= 800 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from deploy_check import app_pages, browser, start_app, stop_app, visit, wait_for_app  # noqa: E402
from fresh_clone import fresh_clone  # noqa: E402

GOALS = {"cold": 3.0, "warm": 1.0, "peak_mb": 800.0}
def pick(page: Any, widget: str, labels: tuple[str, ...]) -> None:
    """Add ``labels`` to the multiselect with key ``widget``, one at a time (each reruns the page)."""
    for label in labels:
        page.locator(f".st-key-{widget} input").first.click()
        page.get_by_role("option", name=label, exact=True).click()
        page.keyboard.press("Escape")
        wait_for_app(page)


def slider_to_end(page: Any, widget: str) -> None:
    page.locator(f".st-key-{widget} input[type='range']").first.focus()
    page.keyboard.press("End")
    wait_for_app(page)


def four_by_seven(page: Any) -> None:
    """Gradients with 4 models × 7 methods (the issue's slow case)."""
    pick(page, "gradients_models", ("Cages", "Colours"))
    pick(page, "gradients_methods", ("SmoothGrad", "Integrated Gradients", "Guided Backprop", "Rectified gradient"))


# The story's clicks: (page, what, set-up (not timed) or None, the element clicked, the element that
# goes back). Timed from the click until the script has finished (which includes a fixed 0.25 s
# settling wait): the first time, and warm (back, then the same click again).
INTERACTIONS: list[tuple[str, str, Callable[[Any], None] | None, str, str]] = [
    ("two_models", "switch to the clean set", None, ".st-key-two_models_set button:has-text('Clean')",
     ".st-key-two_models_set button:has-text('cats watermarked')"),
    ("occlusion", "pick another photo", None, ".st-key-occlusion_strip_strip .sl-ps-pick[data-index='2']",
     ".st-key-occlusion_strip_strip .sl-ps-pick[data-index='1']"),
    ("occlusion", "hide a cell (6x6)", None, ".sl-occ-cell[data-cell='14']", ".sl-occ-cell[data-cell='14']"),
    ("occlusion", "hide a cell (18x18)", lambda page: slider_to_end(page, "occlusion_n"),
     ".sl-occ-cell[data-cell='150']", ".sl-occ-cell[data-cell='150']"),
    ("gradients", "pick another photo", None, ".st-key-gradients_image_strip .sl-ps-pick[data-index='2']",
     ".st-key-gradients_image_strip .sl-ps-pick[data-index='1']"),
    ("gradients", "another photo, 4 models x 7 methods", four_by_seven, ".st-key-gradients_image_strip .sl-ps-pick[data-index='2']",
     ".st-key-gradients_image_strip .sl-ps-pick[data-index='1']"),
    ("mystery", "shuffle the photos", None, ".st-key-mystery_shuffle button", ".st-key-mystery_shuffle button"),
]


def marker(pages: list[tuple[str, str]], index: int) -> str:
    """The text of the link at the foot of page ``index`` (``dashboard/common/story.py``)."""
    following = pages[(index + 1) % len(pages)][1]
    return f"Back to the start: {following}" if index == len(pages) - 1 else f"Next: {following}"


def navigate(page: Any, pages: list[tuple[str, str]], index: int) -> float:
    """Seconds from clicking page ``index``'s sidebar link until it has finished (see above)."""
    path = pages[index][0]
    start = time.monotonic()
    page.locator(f"[data-testid='stSidebarNav'] a[href$='/{path}']").first.click()
    page.get_by_text(marker(pages, index), exact=True).wait_for(state="visible", timeout=180_000)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", state="attached",
                           timeout=180_000)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stSkeleton]').length === 0",
                           timeout=180_000)
    return time.monotonic() - start


def page_problems(page: Any) -> tuple[int, list[str]]:
    exceptions = page.locator("[data-testid='stException']").count()
    errors = [t.strip()[:200] for t in page.locator("[data-testid='stAlertContentError']").all_inner_texts()]
    return exceptions, errors


def click(page: Any, selector: str) -> float:
    start = time.monotonic()
    page.locator(selector).first.click()
    wait_for_app(page)
    return time.monotonic() - start


def interactions(context: Any, url: str, sampler: Sampler) -> list[tuple[str, str, float, float, float]]:
    """(page, what, first seconds, warm seconds, peak MB meanwhile) of each of :data:`INTERACTIONS`."""
    rows = []
    for path, what, setup, selector, back in INTERACTIONS:
        page = context.new_page()
        visit(page, url, path)
        if setup is not None:
            setup(page)
        began = time.monotonic()
        first = click(page, selector)
        click(page, back)
        warm = click(page, selector)
        rows.append((path, what, first, warm, sampler.peak_between(began, time.monotonic()) / 2**20))
        page.close()
    return rows


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    total, stack = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        p = stack.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
        stack.extend(children.get(p, []))
    return total


class Sampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.stop = pid, every, 0, threading.Event()
        self.samples: list[tuple[float, int]] = []  # (monotonic time, bytes)

    def run(self) -> None:
        while not self.stop.is_set():
            rss = tree_rss(self.pid)
            self.samples.append((time.monotonic(), rss))
            self.peak = max(self.peak, rss)
            self.stop.wait(self.every)

    def peak_between(self, start: float, end: float) -> int:
        return max((rss for t, rss in self.samples if start <= t <= end), default=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clone", action="store_true", help="run a fresh clone instead of the working tree")
    parser.add_argument("--read", type=float, default=0.0, metavar="SECONDS",
                        help="pause this long on each page before the next click of the cold round (a reader "
                             "reading; default 0: the worst case for the background warm-up)")
    parser.add_argument("--warm-rounds", type=int, default=3, metavar="N",
                        help="rounds of warm visits (default 3); a page's warm time is their median, its "
                             "slowest is printed beside")
    args = parser.parse_args(argv)
    if args.warm_rounds < 1:
        parser.error("--warm-rounds must be at least 1")
    tmp = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    try:
        where = fresh_clone(tmp / "repo") if args.clone else ROOT
        pages = app_pages(where)
        env = {k: v for k, v in os.environ.items() if k not in ("SALIENCY_DATA", "SALIENCY_AUDIT_CACHE", "PYTHONPATH")}
        env["SALIENCY_CACHE"] = str(tmp / "cache")
        t0 = time.monotonic()
        proc, url = start_app(Path(sys.executable), where, env, tmp / "app.log")
        started = time.monotonic() - t0
        sampler = Sampler(proc.pid)
        sampler.start()
        idle_mb = tree_rss(proc.pid) / 2**20
        times: dict[str, dict[str, float]] = {}
        warm_times: dict[str, list[float]] = {}
        problems: list[str] = []
        try:
            pw, chromium = browser()
            try:
                context = chromium.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                phases: list[tuple[str, float]] = []  # (phase, when it began)
                for round_, visit_kind in enumerate(["cold", *["warm"] * args.warm_rounds]):
                    if round_ < 2:
                        phases.append((f"{visit_kind} visits", time.monotonic()))
                    for i, (path, title) in enumerate(pages):
                        if visit_kind == "cold" and i > 0 and args.read:
                            page.wait_for_timeout(1000 * args.read)
                        began = time.monotonic()
                        if visit_kind == "cold" and i == 0:  # the reader arrives by the URL
                            seconds, exceptions, errors = visit(page, url, path)
                        else:
                            seconds = navigate(page, pages, i)
                            exceptions, errors = page_problems(page)
                        times.setdefault(title, {})
                        if visit_kind == "warm":
                            warm_times.setdefault(title, []).append(seconds)
                        else:
                            times[title]["cold"] = seconds
                        if visit_kind == "cold":  # the memory a page's first visit peaks at
                            times[title]["cold MB"] = sampler.peak_between(began, time.monotonic()) / 2**20
                        if exceptions or errors:
                            problems.append(f"{title} ({visit_kind}): {exceptions} exception(s) {errors}")
                page.close()
                phases.append(("new tabs", time.monotonic()))
                for path, title in pages:
                    tab = context.new_page()
                    times[title]["new tab"] = visit(tab, url, path)[0]
                    tab.close()
                phases.append(("clicks", time.monotonic()))
                clicks = interactions(context, url, sampler)
                phases.append(("end", time.monotonic()))
            finally:
                chromium.close()
                pw.stop()
        finally:
            sampler.stop.set()
            sampler.join()
            stop_app(proc)
        for title, seconds in warm_times.items():
            times[title]["warm"] = statistics.median(seconds)
            times[title]["warm max"] = max(seconds)
        peak_mb = sampler.peak / 2**20
        print(f"dashboard bench ({'fresh clone' if args.clone else 'working tree'}, empty SALIENCY_CACHE, "
              f"{f'{args.read:g} s reading each page before the next (cold round), ' if args.read else ''}"
              f"built-in photos, {os.cpu_count()} CPUs); server healthy after {started:.1f} s, "
              f"{idle_mb:.0f} MB at start")
        print(f"{'page':<22} {'cold s':>7} {'warm s':>7} {'slowest':>8} {'new tab s':>9} {'peak MB (cold)':>15}"
              f"   (warm: median of {args.warm_rounds} rounds)")
        for title, row in times.items():
            print(f"{title:<22} {row['cold']:7.2f} {row['warm']:7.2f} {row['warm max']:8.2f} {row['new tab']:9.2f} "
                  f"{row['cold MB']:15.0f}")
        print(f"{'interaction':<40} {'first s':>7} {'warm s':>7} {'peak MB':>8}")
        for path, what, first, warm_click, mb in clicks:
            print(f"{path + ': ' + what:<40} {first:7.2f} {warm_click:7.2f} {mb:8.0f}")
        cold = max(r["cold"] for r in times.values())
        warm = max(r["warm"] for r in times.values())
        print(f"peak RSS of the streamlit process tree: {peak_mb:.0f} MB ("
              + ", ".join(f"{name} {sampler.peak_between(start, end) / 2**20:.0f}"
                          for (name, start), (_, end) in zip(phases, phases[1:])) + ")")
        def verdict(value: float, goal: float, unit: str) -> str:
            return "met" if value <= goal else f"{value - goal:+.2f} {unit} over"

        slowest = max(r["warm max"] for r in times.values())
        print(f"goals: cold <= {GOALS['cold']:g} s (worst {cold:.2f} s, {verdict(cold, GOALS['cold'], 's')}); "
              f"warm <= {GOALS['warm']:g} s (worst page median {warm:.2f} s, {verdict(warm, GOALS['warm'], 's')}; "
              f"slowest single visit {slowest:.2f} s); "
              f"peak <= {GOALS['peak_mb']:g} MB ({verdict(peak_mb, GOALS['peak_mb'], 'MB')})")
        for problem in problems:
            print("PROBLEM:", problem)
        if problems:  # the redacted browser message says nothing: the server's log has the cause
            log = (tmp / "app.log").read_text(errors="replace").splitlines()
            print("server log (errors):", *[line for line in log if "Error" in line][-10:], sep="\n  ")
        return 1 if problems else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
