"""`saliency-lab train NAME | --all [--quick] [--data DIR] [--epochs N] [--out DIR]`: train the demo zoo."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from saliency_core.zoo.recipes import RECIPES

    p = sub.add_parser("train", help="train demo zoo models on the cats-vs-dogs photos")
    p.add_argument("name", nargs="?", choices=sorted(RECIPES), help="zoo model to train")
    p.add_argument("--all", action="store_true", help="train every zoo model (about 5 minutes on 2 idle cores)")
    p.add_argument("--quick", action="store_true",
                   help="tiny versions (a few images, 1 epoch) into a temporary folder, for tests")
    p.add_argument("--data", type=Path, default=None, help="photo folder (default: SALIENCY_DATA)")
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: the package's zoo/weights; --quick: a temporary folder)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from saliency_core.data import data_dir
    from saliency_core.zoo.recipes import RECIPES
    from saliency_core.zoo.train import train_model

    if args.all == bool(args.name):
        raise ValueError("give exactly one of NAME or --all")
    names = list(RECIPES) if args.all else [args.name]
    root = data_dir(args.data)
    out = args.out
    if out is None and args.quick:
        # --quick never overwrites the committed weights.
        out = Path(tempfile.mkdtemp(prefix="saliency-zoo-quick-"))
    for name in names:
        card = train_model(name, root, out, epochs=args.epochs, quick=args.quick, seed=args.seed)
        print(f"{name}: clean test accuracy {card['clean_test_accuracy']}, "
              f"watermark-consistent {card['watermark_consistent_accuracy']}, "
              f"inconsistent {card['watermark_inconsistent_accuracy']}, "
              f"{card['epochs_run']} epochs, {card['wall_time_s']} s", flush=True)
    print(f"weights in {out or 'saliency_core/zoo/weights'}")
    return 0
