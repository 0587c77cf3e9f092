"""`saliency-lab info`: versions, kernel backend and data directory."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show versions, kernel backend and the data directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    import saliency_core
    from saliency_core import kernels
    from saliency_core.data import data_dir
    from saliency_core.data.files import shown_name

    print(f"saliency_core {saliency_core.__version__}, torch {torch.__version__}")
    print(f"kernel backend: {kernels.backend()} (CUDA kernels compiled: {kernels.cuda_compiled()}, "
          f"GPU visible: {kernels.cuda_available()})")
    # A diagnostic: a missing data folder is something to report, not a failure of `info`.
    try:
        print(f"data directory: {shown_name(data_dir())}")  # SALIENCY_DATA may hold a newline
    except FileNotFoundError as err:
        print(f"data directory: missing: {shown_name(str(err))}")
    return 0
