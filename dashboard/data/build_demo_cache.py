"""Precompute the Dataset audit page's report for one photo set (run after training the zoo).

    .venv/bin/python dashboard/data/build_demo_cache.py                       # the built-in photos
    .venv/bin/python dashboard/data/build_demo_cache.py --what pages          # only the page tables
    SALIENCY_DATA=../shared/data/cats-vs-dogs .venv/bin/python dashboard/data/build_demo_cache.py

For the built-in photos it also writes the pages' shipped tables (``--what pages``; a few minutes):
``dashboard/data/page_cache/builtin/predictions.csv`` (every zoo model's probabilities on every
image of the pages' demo sets) and its ``meta.json``, fingerprinted as
``dashboard.common.diskcache.page_cache_fingerprint`` says; the pages use them when the
fingerprint matches what is installed. And ``page_cache/builtin/results/``: the results of the
kinds in ``diskcache.SHIPPED_KINDS`` that the story pages' default views store (Occlusion on each
photo of its strip, Beyond simple saliency), recorded by running those pages
(AppTest) on an empty cache; their file names hash their keys, so a stale one is never read.

Writes small CSVs and ``meta.json`` to ``dashboard/data/demo_audit/<set>/`` (``builtin`` or
``kaggle``; commit them). The page compares ``meta.json``'s fingerprint (a hash of the zoo's weight
files, the report's version and the set's manifest) with what is installed and recomputes, with a
progress bar, when they differ. The report is ``saliency_core.audit.report.build_report``, the
function the page falls back to.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages come first
    sys.path.insert(0, str(ROOT))

from dashboard.common.audit_cache import (  # noqa: E402
    AUDIT_MODELS,
    REPORT_VERSION,
    cache_dir,
    photo_set,
    report_fingerprint,
    save_report,
)
from saliency_core import zoo  # noqa: E402
from saliency_core.audit.report import (  # noqa: E402
    AUDIT_METHOD,
    PER_CLASS,
    SANITY_METHOD,
    SIGMAS,
    build_report,
    demo_audit_data,
)
from saliency_core.data import data_dir  # noqa: E402


def build_page_cache(out: Path | None = None) -> Path:
    """The pages' shipped tables for the built-in photos (see the module's docstring)."""
    import json

    import pandas as pd

    from dashboard.common.demo_sets import build_demo_set
    from dashboard.common.diskcache import (
        PAGE_CACHE_DIR,
        PAGE_CACHE_MODELS,
        PAGE_CACHE_PER_CLASS,
        PAGE_CACHE_VERSION,
        page_cache_fingerprint,
    )
    from dashboard.common.models import CLASSES, predict

    root = data_dir()
    if photo_set(root) != "builtin":
        raise SystemExit("the page tables are shipped for the built-in photos only (unset SALIENCY_DATA)")
    out = out or PAGE_CACHE_DIR / "builtin"
    start = time.monotonic()
    demo = build_demo_set(str(root), PAGE_CACHE_PER_CLASS, "both", "both", 0)
    names = [name for name in PAGE_CACHE_MODELS if name in set(zoo.names())]
    rows = []
    for name in names:
        probs = predict(name, demo.images).numpy()
        rows += [{"model": name, "id": image_id, "p_cat": float(p[0]), "p_dog": float(p[1])}
                 for image_id, p in zip(demo.ids, probs, strict=True)]
    assert tuple(CLASSES) == ("cat", "dog"), CLASSES
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out / "predictions.csv", index=False, float_format="%.7g")
    meta = {"version": PAGE_CACHE_VERSION, "fingerprint": page_cache_fingerprint(root), "photo_set": "builtin",
            "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "models": names,
            "per_class": PAGE_CACHE_PER_CLASS, "images": len(demo),
            "seconds": round(time.monotonic() - start, 1)}
    (out / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out} ({len(demo)} images, {len(names)} models, {meta['seconds']} s)")
    return out


def record_page_results(out: Path | None = None) -> Path:
    """Run the story pages' default views on an empty cache and keep the files of the kinds in
    ``diskcache.SHIPPED_KINDS`` they stored (see the module's docstring)."""
    import os
    import shutil
    import tempfile

    from streamlit.testing.v1 import AppTest

    from dashboard.common import diskcache
    from dashboard.common.demo_sets import build_demo_set

    root = data_dir()
    if photo_set(root) != "builtin":
        raise SystemExit("the page results are shipped for the built-in photos only (unset SALIENCY_DATA)")
    out = out or diskcache.SHIPPED_RESULTS
    shutil.rmtree(out, ignore_errors=True)  # else the pages would read the old files instead of storing new ones
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="page-results-") as tmp:
        os.environ["SALIENCY_CACHE"] = tmp
        app = str(ROOT / "dashboard" / "app.py")
        strip = build_demo_set(str(root), 3, "pairs", "pairs", 0).ids[:12]  # occlusion_pairs(6)
        runs: list[tuple[str, dict[str, object]]] = [
            *[("views/occlusion.py", {"occlusion_image": image_id, "occlusion_tab": tab})
              for image_id in strip for tab in ("Manual", "Automatic")],  # only the open tab runs
            ("views/beyond.py", {}), ("views/quadrants.py", {})]
        for page, state in runs:
            at = AppTest.from_file(app, default_timeout=600)
            for key, value in state.items():
                at.session_state[key] = value
            at.switch_page(page)
            at.run()
            if at.exception:
                raise SystemExit(f"{page} {state}: {at.exception[0].message}")
            print(f"[{time.monotonic() - start:6.1f}s] {page} {state or ''}", flush=True)
        out.mkdir(parents=True, exist_ok=True)
        kept = [path for path in (Path(tmp) / "dashboard").iterdir()  # <kind>-<key hash>.<suffix>
                if path.name.rsplit("-", 1)[0] in diskcache.SHIPPED_KINDS]
        for path in kept:
            shutil.copy2(path, out / path.name)
    size = sum(path.stat().st_size for path in out.iterdir())
    print(f"wrote {out} ({len(kept)} files, {size / 2**20:.2f} MB, {time.monotonic() - start:.0f} s)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=("all", "audit", "pages"), default="all",
                        help="the audit report, the pages' tables (built-in photos only) or both")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output folder (default: {cache_dir()}/<set>, the set being builtin or kaggle)")
    parser.add_argument("--per-class", type=int, default=PER_CLASS, help="test photos per class")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny models on a shared CPU: one thread is the fastest here
    if args.what in ("all", "pages") and photo_set(data_dir()) == "builtin":
        build_page_cache()
        record_page_results()
    if args.what == "pages":
        return 0

    available = set(zoo.names())
    names = [name for name in AUDIT_MODELS if name in available]
    models = {name: zoo.load(name).eval() for name in names}
    random_model = zoo.load("random-labels").eval() if "random-labels" in available else None
    root = data_dir()
    out = args.out or cache_dir() / photo_set(root)
    data = demo_audit_data(root, args.per_class)
    start = time.monotonic()

    def progress(fraction: float, text: str) -> None:
        print(f"[{time.monotonic() - start:6.1f}s {100 * fraction:5.1f}%] {text}", flush=True)

    report = build_report(models, data, progress=progress, random_model=random_model)
    meta = {
        "version": REPORT_VERSION,
        "fingerprint": report_fingerprint([*names, *(["random-labels"] if random_model is not None else [])], root),
        "photo_set": photo_set(root),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "models": names,
        "random_labels_model": random_model is not None,
        "method": AUDIT_METHOD,
        "sanity_method": SANITY_METHOD,
        "sigmas": list(SIGMAS),
        "per_class": args.per_class,
        "images": int(data.images.shape[0]),
        "seconds": round(time.monotonic() - start, 1),
    }
    save_report(report, out, meta)
    print(f"wrote {out} ({meta['images']} images, {len(names)} models, {meta['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
