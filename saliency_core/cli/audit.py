"""`saliency-lab audit`: audit a folder of images with models x saliency methods.

    saliency-lab audit --model colour --model clean --method gradient_squared \\
        --data data/cats-vs-dogs --region 96,96,128,128 --out results.parquet
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from saliency_core.cli import preprocess as preprocess_options
from saliency_core.cli.zoo import TIMEOUT_HELP
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
                   help="artefact box in pixels of the resized N x N image (--input-size), x1/y1 exclusive")
    p.add_argument("--out", type=Path, default=None,
                   help="results table (.parquet or .csv); each finished shard is kept in OUT.parts/ "
                        "and skipped when the audit runs again with the same settings")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--percent", type=float, default=0.5, help="top-percent of pixels for the share")
    preprocess_options.add_arguments(p, FRAME, ", the demo models' frame; folders are read with the centre crop")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process; ray: an actor pool on a Ray cluster (pip install "
                        "'saliency-lab[ray]'; needs --out on storage every node reaches)")
    p.add_argument("--address", default=None,
                   help="the Ray cluster to join, e.g. auto or ray://head:10001 (default: a running "
                        "local one, else a new one on this machine)")
    p.add_argument("--workers", type=int, default=None,
                   help="Ray actors (default: one per GPU, else one per CPU)")
    p.add_argument("--worker-cpus", type=float, default=None,
                   help="CPUs of each Ray actor: its torch threads and photo decoders (default: 1; with "
                        "GPUs, a GPU node's CPUs per GPU)")
    p.add_argument("--shard-size", type=int, default=None,
                   help="images per shard, the unit of resume and of Ray's scheduling (default 512)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help=TIMEOUT_HELP + " (with --engine local; Ray's workers load model files in their own "
                        "process, without a limit)")
    p.set_defaults(func=run)


def load_model(spec: str, *, separate_process: bool = False, timeout: float | None = None,
               preprocess: Any = None) -> Any:
    """``--model``: a zoo name, else a model file through the zoo's safe loader (never
    ``torch.jit.load`` on a user's file: its code could run while loading). With
    ``separate_process``, a model file runs in a child process (``ModelProcess``) with ``timeout``
    seconds per forward pass, behind ``preprocess``'s normalisation there (the audit leaves it
    unwrapped); zoo models load in this process, unwrapped (the audit wraps them)."""
    from saliency_core import zoo
    from saliency_core.cli.zoo import load_model_arg

    if separate_process and spec not in zoo.RECIPES and os.path.lexists(spec):
        return load_model_arg(spec, separate_process=True, timeout=timeout, preprocess=preprocess)
    return load_model_arg(spec)


def read_folder(data: Path, size: int) -> Any:
    """The photos of ``data`` (``load_any``) in the model frame; each file it skips is named with
    its reason on stderr, one line each; a folder without a readable photo is the error."""
    from saliency_core.data import load_any
    from saliency_core.data.files import shown_name

    with warnings.catch_warnings():
        # The loader's warning lists the same files; they are printed below, one line each.
        warnings.filterwarnings("ignore", message="skipped ", category=RuntimeWarning)
        images = load_any(data, size)
    for problem in images.problems:
        print(f"saliency-lab audit: skipped {problem}", file=sys.stderr)
    if not len(images):
        skipped = f" ({len(images.problems)} file(s) skipped, named above)" if images.problems else ""
        raise ValueError(f"no images found in data folder {shown_name(data)}{skipped}")
    return images


def run(args: argparse.Namespace) -> int:
    from saliency_core.audit import run as audit, summarize
    from saliency_core.checks import check_finite, check_positive
    from saliency_core.cli.region import parse_region
    from saliency_core.data.files import shown_name

    pre = preprocess_options.from_args(args)  # before anything is read or allocated
    if pre.resize == "stretch":
        raise ValueError("--resize stretch: audit reads folders with the centre crop (stretch is not supported "
                         "for audits yet)")
    check_positive("--batch-size", args.batch_size)
    data = args.data or (Path(os.environ["SALIENCY_DATA"]) if os.environ.get("SALIENCY_DATA") else None)
    if data is None:
        raise ValueError("no data: pass --data DIR or set SALIENCY_DATA")
    if not data.is_dir():  # before the models load
        raise ValueError(f"--data {shown_name(data)} {'is not a folder' if data.exists() else 'does not exist'}")
    region = parse_region(args.region, pre.size) if args.region else None
    if args.timeout is not None:  # before anything is loaded, whatever the models
        check_finite("--timeout", args.timeout, low=0, closed="right")
    local = args.engine == "local"  # model files run in a child process there, under --timeout per forward pass
    if local:
        from saliency_core.methods import METHODS

        unknown = [m for m in args.method if m not in METHODS]
        if unknown:  # run() checks only its own explain's names; before any model is loaded
            raise ValueError(f"unknown saliency methods {unknown}; available: {', '.join(METHODS)}")
    models = {_short_name(name, args.model): load_model(name, separate_process=local, timeout=args.timeout,
                                                        preprocess=pre).eval()
              for name in args.model}
    explain = None  # the library's own (zoo models only, or Ray: models load in each worker's process)
    if local:
        from saliency_core.zoo.model_process import ModelProcess, explain as in_child

        if any(isinstance(model, ModelProcess) for model in models.values()):
            explain = in_child  # in the child for a model file, here for a zoo model
    pre = preprocess_options.with_class(pre, args, next(iter(models.values())))  # names: the first model's
    # Ray's workers each read their own shard of the folder; the local engine gets it read here.
    images = read_folder(data, pre.size) if args.engine == "local" else data
    shard = {"shard_size": args.shard_size} if args.shard_size is not None else {}
    cpus = {"CPU": args.worker_cpus} if args.worker_cpus is not None else None
    table = audit(models, args.method, images, region, batch_size=args.batch_size,
                  percent=args.percent, out=args.out, progress=not args.no_progress,
                  preprocess=pre, engine=args.engine, address=args.address, workers=args.workers,
                  worker_resources=cpus, explain=explain, **shard)
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
