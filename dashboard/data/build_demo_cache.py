"""Precompute the Dataset audit page's report for one photo set (run after training the zoo).

    .venv/bin/python dashboard/data/build_demo_cache.py                       # the built-in photos
    SALIENCY_DATA=../shared/data/cats-vs-dogs .venv/bin/python dashboard/data/build_demo_cache.py

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output folder (default: {cache_dir()}/<set>, the set being builtin or kaggle)")
    parser.add_argument("--per-class", type=int, default=PER_CLASS, help="test photos per class")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny models on a shared CPU: one thread is the fastest here

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
