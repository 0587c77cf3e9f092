"""`saliency-lab data fetch [--dir DIR]` and `saliency-lab data status [--data DIR]`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="download the Oxford-IIIT Pet photos or show the data folder")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    f = dsub.add_parser("fetch", help="download Oxford-IIIT Pet (~800 MB; resumable, checksummed)")
    f.add_argument("--dir", type=Path, default=None,
                   help="target folder (default: SALIENCY_DATA, else ~/.cache/saliency-lab/data)")
    f.add_argument("--keep-archives", action="store_true")
    f.set_defaults(func=run_fetch)
    s = dsub.add_parser("status", help="where the photos are and how many there are")
    s.add_argument("--data", type=Path, default=None)
    s.set_defaults(func=run_status)


def run_fetch(args: argparse.Namespace) -> int:
    from saliency_core.data import DEFAULT_DIR
    from saliency_core.data.fetch import fetch_oxford_pet

    folder = args.dir or Path(os.environ.get("SALIENCY_DATA") or DEFAULT_DIR)
    fetch_oxford_pet(folder.expanduser(), keep_archives=args.keep_archives)
    print(f"Oxford-IIIT Pet in {folder}; use it with SALIENCY_DATA={folder}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from saliency_core.data import data_dir
    from saliency_core.data.files import shown_name
    from saliency_core.data.loaders import IMAGE_SUFFIXES

    folder = data_dir(args.data)
    layout = ("manifest" if (folder / "MANIFEST.csv").is_file()
              else "oxford-iiit-pet" if (folder / "images").is_dir() else "class folders")
    # Counted by name only: nothing is opened (a pipe among the photos cannot block this).
    count = sum(1 for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    print(f"data directory: {shown_name(folder)}\nlayout: {layout}\nimages: {count}")
    return 0
