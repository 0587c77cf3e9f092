"""The preprocessing options of ``explain``, ``occlusion`` and ``audit``: input size, resize policy,
normalisation, class names and the class to explain, as one
:class:`~saliency_core.data.preprocess.Preprocess`.

    --input-size 224 --resize crop --normalize imagenet --classes cat,dog,fox --class fox
"""

from __future__ import annotations

import argparse
from typing import Any

from saliency_core.data.frame import MAX_FRAME

NORMALIZE_HELP = ("normalisation the model expects, applied outside it (saliency stays in [0, 1] pixels): "
                  "none (default), imagenet, or MEAN,MEAN,MEAN/STD,STD,STD in [0, 1] pixel units, "
                  "e.g. 0.5,0.5,0.5/0.25,0.25,0.25")


def add_arguments(p: argparse.ArgumentParser, size: int, size_help: str = "") -> None:
    """``--input-size`` (alias ``--size``), ``--resize``, ``--normalize``, ``--classes``, ``--class``."""
    p.add_argument("--input-size", "--size", dest="size", type=int, default=size, metavar="N",
                   help=f"the model's input: photos are brought to N x N pixels, at most {MAX_FRAME} "
                        f"(default {size}{size_help})")
    p.add_argument("--resize", choices=("crop", "stretch"), default="crop",
                   help="crop: shorter side to N, centre crop (default); stretch: both sides to N")
    p.add_argument("--normalize", default="none", metavar="none|imagenet|M,M,M/S,S,S", help=NORMALIZE_HELP)
    p.add_argument("--classes", default=None, metavar="NAME,NAME,...",
                   help="the name of each model output, in output order (default: the model file's own)")
    p.add_argument("--class", dest="class_", default=None, metavar="NAME_OR_INDEX",
                   help="the class to explain: an output index or a name (default: each image's prediction)")


def from_args(args: argparse.Namespace) -> Any:
    """The :class:`Preprocess` of ``--input-size``, ``--resize``, ``--normalize`` and ``--classes``
    (no class chosen yet: :func:`with_class`). Bad values are one-line ValueErrors naming the option."""
    from saliency_core.data.frame import check_frame_size
    from saliency_core.data.preprocess import Preprocess, parse_normalize

    size = check_frame_size(args.size, "--input-size/--size")
    normalization = parse_normalize(args.normalize)
    mean, std = normalization if normalization is not None else (None, None)
    names = getattr(args, "classes", None)
    if names is not None:
        names = tuple(n.strip() for n in names.split(","))
        if not all(names) or len(set(names)) != len(names):
            raise ValueError(f"--classes must be distinct comma-separated names, got {args.classes!r}")
    return Preprocess(size=size, resize=args.resize, mean=mean, std=std, classes=names)


def with_class(pre: Any, args: argparse.Namespace, model: Any = None) -> Any:
    """``pre`` with the model's own class names (when ``--classes`` gave none) and ``--class``
    resolved to an output index (a one-line ValueError starting with ``--class`` if it is neither
    an index nor a name)."""
    import dataclasses

    names = pre.classes
    if names is None and getattr(model, "classes", None) is not None:
        names = tuple(str(c) for c in model.classes)
    pre = dataclasses.replace(pre, classes=names)
    chosen = getattr(args, "class_", None)
    if chosen is None:
        return pre
    try:
        return dataclasses.replace(pre, target=pre.class_index(chosen))
    except ValueError as error:
        raise ValueError(f"--class: {error}") from None
