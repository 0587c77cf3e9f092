"""`saliency-lab zoo list | report [--data DIR] [--out FILE]`: the installed demo models and their results.

Also :func:`load_model_arg`, how every subcommand's ``--model`` is resolved.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

# Suffixes that say "this was meant as a file", so a missing one is not called an unknown zoo model.
MODEL_SUFFIXES = (".pt", ".pth", ".pt2", ".ts", ".jit", ".safetensors")
TIMEOUT_HELP = ("seconds a forward pass of a model file may take: the file runs in a separate process, "
                "stopped after that (default $SALIENCY_MODEL_TIMEOUT or 60); zoo models run in this one")


def load_model_arg(spec: str, architecture: str | None = None, *, separate_process: bool = False,
                   timeout: float | None = None, size: int = 128, preprocess: Any = None) -> Any:
    """``--model SPEC``: a zoo model name, else a model file through the zoo's safe loader
    (TorchScript, ``.pt2``, safetensors, a weights-only state dict; never unpickled).

    ``separate_process``: a model file is loaded and run in a child process with ``timeout``
    seconds per forward pass (``--timeout``; default ``SALIENCY_MODEL_TIMEOUT`` or 60), a
    :class:`~saliency_core.zoo.model_process.ModelProcess` (first forward pass: a ``size`` image);
    run saliency on it with ``model_process.explain`` / ``occlusion`` / ``cell_occlusion``. Zoo
    models always run in this process.

    Whatever is on disk under SPEC must be a regular file, checked before it is opened: a folder
    is ``"SPEC: is a directory, not a model file"``, a pipe or device ``"SPEC: not a regular file
    (a named pipe)"`` -- never "unknown zoo model", never a hang. A missing SPEC that looks like
    a file (a folder in it, a model suffix) is ``"no such model file"``; any other is an unknown
    zoo model, with the names to choose from.

    ``preprocess`` (a :class:`~saliency_core.data.preprocess.Preprocess`): the model comes behind
    its normalisation (in the child for a separate process), probed at its size.
    """
    from saliency_core import zoo
    from saliency_core.data.files import check_regular_file, read_regular_file, shown_name

    if timeout is not None:  # before anything is loaded, whatever the model
        from saliency_core.checks import check_finite

        check_finite("--timeout", timeout, low=0, closed="right")
    wrap = preprocess.wrap if preprocess is not None else (lambda model: model)
    if preprocess is not None:
        size = preprocess.size
    if spec in zoo.RECIPES:  # zoo names first: a class folder called "normal" never shadows them
        return wrap(zoo.load(spec))
    path = Path(spec)
    if os.path.lexists(path) and separate_process:
        from saliency_core.zoo.model_process import ModelProcess

        data = read_regular_file(path, what="model file", limit=None)
        return ModelProcess(path, architecture, data=data, timeout=timeout, probe_size=size,
                            limit_hint="--timeout SECONDS",
                            normalize=preprocess.normalization if preprocess is not None else None)
    if os.path.lexists(path):
        return wrap(zoo.load_model(check_regular_file(path, what="model file"), architecture=architecture))
    if os.sep in spec or path.suffix.lower() in MODEL_SUFFIXES:
        raise FileNotFoundError(f"{shown_name(spec)}: no such model file")
    return wrap(zoo.load(spec))  # "unknown zoo model ...; choose one of ..."


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zoo", help="list the demo zoo models or write the results report")
    zsub = p.add_subparsers(dest="zoo_command", metavar="ACTION", required=True)
    zsub.add_parser("list", help="installed models with their clean test accuracy").set_defaults(func=run_list)
    r = zsub.add_parser("report", help="write the zoo's results (targets, per-quadrant tables) from its model cards")
    r.add_argument("--out", type=Path, default=Path("docs/RESULTS.md"))
    r.add_argument("--preamble", type=Path, default=None, help="Markdown file put before the generated tables")
    r.set_defaults(func=run_report)


def run_list(args: argparse.Namespace) -> int:
    from saliency_core import zoo

    installed = zoo.names()
    for name in zoo.RECIPES:
        if name in installed:
            c = zoo.card(name)
            accuracy = c.get("heldout", {}).get("kaggle", {}).get("clean_accuracy", c.get("clean_test_accuracy"))
            print(f"{name:15s} clean test acc {accuracy}  ({c.get('epochs_run')} epochs, {c.get('description', '')})")
        else:
            print(f"{name:15s} (not trained: saliency-lab train {name})")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from saliency_core.zoo.report import build_report

    text = build_report(preamble=args.preamble.read_text() if args.preamble else "")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0
