"""`saliency-lab train NAME | --all [--quick] [--data DIR] [--oxford DIR] [--out DIR]`: fine-tune the demo zoo.

The recipe is ``saliency_core.zoo.finetune`` (frozen ImageNet EfficientNet-Lite0 trunk, trained top on
cached activations). Training is resumable: a model whose card is in ``OUT/weights`` is not trained
again. Without ``--out`` the run works in the cache folder and installs the finished models into the
package's ``zoo/weights``; ``--quick`` (a few photos, one epoch) never touches them.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from saliency_core.zoo.recipes import RECIPES

    p = sub.add_parser("train", help="fine-tune demo zoo models on the cats-vs-dogs photos")
    p.add_argument("name", nargs="?", choices=sorted(RECIPES), help="zoo model to train")
    p.add_argument("--all", action="store_true", help="train every zoo model (resumable; about an hour here)")
    p.add_argument("--quick", action="store_true",
                   help="tiny versions (a few images, 1 epoch) into a temporary folder, for tests")
    p.add_argument("--data", type=Path, default=None, help="photo folder (default: SALIENCY_DATA)")
    p.add_argument("--oxford", type=Path, default=None,
                   help="also measure on the Oxford-IIIT Pet photos in this folder (held out)")
    p.add_argument("--out", type=Path, default=None,
                   help="work folder (weights/ and cache/ inside); default: the cache folder, then the finished "
                        "models are installed into the package's zoo/weights")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from saliency_core.data import cache_dir, data_dir
    from saliency_core.zoo import WEIGHTS_DIR
    from saliency_core.zoo.finetune import train_all
    from saliency_core.zoo.recipes import RECIPES

    if args.all == bool(args.name):
        raise ValueError("give exactly one of NAME or --all")
    names = list(RECIPES) if args.all else [args.name]
    root = data_dir(args.data)
    out = args.out
    if out is None:
        # --quick never overwrites the committed weights.
        out = Path(tempfile.mkdtemp(prefix="saliency-zoo-quick-")) if args.quick else cache_dir() / "zoo-train"
    cards = train_all(root, out, names, quick=args.quick, oxford=args.oxford, seed=args.seed)
    for name in names:
        kaggle = cards[name]["heldout"]["kaggle"]
        quads = ", ".join(f"{q} {r['accuracy']:.3f}" for q, r in kaggle["quadrants"].items())
        print(f"{name}: clean test accuracy {kaggle['clean_accuracy']:.3f}; {quads}; "
              f"{cards[name]['epochs_run']} epochs, {cards[name]['wall_time_s']} s", flush=True)
    if args.out is None and not args.quick:
        for name in names:
            for suffix in (".safetensors", ".json"):
                shutil.copyfile(out / "weights" / f"{name}{suffix}", WEIGHTS_DIR / f"{name}{suffix}")
        print(f"installed into {WEIGHTS_DIR}")
    else:
        print(f"weights in {out / 'weights'}")
    return 0
