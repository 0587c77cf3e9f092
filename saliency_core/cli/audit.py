"""`saliency-lab audit`: audit a folder of images with models x saliency methods.

    saliency-lab audit --model colour --model clean --method gradient_squared \\
        --data data/cats-vs-dogs --region 96,96,128,128 --out results.parquet
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from saliency_core.data.frame import FRAME


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("audit", help="saliency bias statistics of a dataset for models x methods")
    p.add_argument("--model", action="append", required=True,
                   help="a zoo model name or a model file (repeatable)")
    p.add_argument("--method", action="append", required=True,
                   help="saliency method, e.g. gradient_squared (repeatable)")
    p.add_argument("--data", type=Path, default=None,
                   help="photo folder: one subfolder per class, a MANIFEST.csv or the Oxford-IIIT Pet "
                        "layout (default: $SALIENCY_DATA)")
    p.add_argument("--region", default=None, metavar="x0,y0,x1,y1",
                   help="artefact box in pixels of the resized image, x1/y1 exclusive")
    p.add_argument("--out", type=Path, default=None,
                   help="results table (.parquet or .csv); existing rows are kept and skipped")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--percent", type=float, default=0.5, help="top-percent of pixels for the share")
    p.add_argument("--size", type=int, default=FRAME,
                   help=f"images are brought to SIZE x SIZE (default {FRAME}, the demo models' frame)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def load_model(spec: str) -> Any:
    """A TorchScript file, else another model file (``zoo.load_model``), else a zoo name (``zoo.load``)."""
    import torch

    from saliency_core import zoo

    path = Path(spec)
    if path.is_file() and path.suffix in {".pt", ".pth", ".ts", ".jit"}:
        try:
            return torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
        except RuntimeError:
            pass  # not TorchScript: let the zoo try
    return zoo.load_model(spec) if path.exists() else zoo.load(spec)


def run(args: argparse.Namespace) -> int:
    from saliency_core.audit import run as audit, summarize
    from saliency_core.cli.region import parse_region

    if args.size < 1 or args.batch_size < 1:
        raise ValueError("--size and --batch-size must be positive")
    data = args.data or (Path(os.environ["SALIENCY_DATA"]) if os.environ.get("SALIENCY_DATA") else None)
    if data is None:
        raise ValueError("no data: pass --data DIR or set SALIENCY_DATA")
    region = parse_region(args.region, args.size) if args.region else None
    models = {_short_name(name, args.model): load_model(name).eval() for name in args.model}
    table = audit(models, args.method, data, region, batch_size=args.batch_size,
                  percent=args.percent, out=args.out, progress=not args.no_progress,
                  image_size=args.size)
    print(_compact(summarize(table)).to_string(index=False))
    if args.out:
        print(f"{len(table)} rows in {args.out}")
    return 0


def _short_name(spec: str, specs: list[str]) -> str:
    """A model file's stem as its table name (unless two files share a stem); zoo names as is."""
    stem = Path(spec).stem if Path(spec).exists() else spec
    return stem if sum(Path(s).stem == stem for s in specs) <= 1 else spec


def _compact(summary: Any) -> Any:
    """The summary with each confidence interval folded into one "[low, high]" column."""
    table = summary.copy()
    for column in ("accuracy", "share_over"):
        if f"{column}_ci_low" not in table.columns or f"{column}_ci_high" not in table.columns:
            continue  # e.g. an empty summary: nothing to fold
        low, high = table.pop(f"{column}_ci_low"), table.pop(f"{column}_ci_high")
        at = table.columns.get_loc(column) + 1
        table.insert(at, f"{column}_ci", [f"[{a:.2f}, {b:.2f}]" for a, b in zip(low, high)])
    for column in table.columns:
        if table[column].dtype.kind == "f":
            table[column] = table[column].map(lambda v: f"{v:.3f}")
    return table
