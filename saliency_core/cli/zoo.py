"""`saliency-lab zoo list | report [--data DIR] [--out FILE]`: the installed demo models and their results."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zoo", help="list the demo zoo models or write the results report")
    zsub = p.add_subparsers(dest="zoo_command", metavar="ACTION", required=True)
    zsub.add_parser("list", help="installed models with their clean test accuracy").set_defaults(func=run_list)
    r = zsub.add_parser("report", help="write docs/RESULTS.md (needs the demo photos)")
    r.add_argument("--data", type=Path, default=None, help="photo folder (default: SALIENCY_DATA)")
    r.add_argument("--out", type=Path, default=Path("docs/RESULTS.md"))
    r.set_defaults(func=run_report)


def run_list(args: argparse.Namespace) -> int:
    from saliency_core import zoo

    installed = zoo.names()
    for name in zoo.RECIPES:
        if name in installed:
            c = zoo.card(name)
            print(f"{name:15s} clean test acc {c.get('clean_test_accuracy')}  "
                  f"({c.get('epochs_run')} epochs, {c.get('description', '')})")
        else:
            print(f"{name:15s} (not trained: saliency-lab train {name})")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from saliency_core.data import data_dir
    from saliency_core.zoo.report import build_report

    text = build_report(data_dir(args.data))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0
