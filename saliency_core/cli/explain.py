"""`saliency-lab explain`: saliency maps of a few images as grayscale PNGs.

    saliency-lab explain --model model.pt --method integrated_gradients --option steps=32 \\
        --out maps/ cat1.jpg cat2.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from saliency_core.cli.zoo import TIMEOUT_HELP
from saliency_core.data.frame import MAX_FRAME  # the parser's module imports it already (cli.audit)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("explain", help="write saliency maps of images as PNG files")
    p.add_argument("images", nargs="+", type=Path, help="image files (any format Pillow reads)")
    p.add_argument("--model", required=True,
                   help="a zoo model name or a model file (TorchScript, torch.export .pt2, safetensors)")
    p.add_argument("--architecture", default=None,
                   help="architecture of a weights-only model file (e.g. demo_cnn)")
    # Names are checked by explain() when the subcommand runs (see the package docstring).
    p.add_argument("--method", default="gradient_squared",
                   help="saliency method, e.g. vanilla_gradient, smoothgrad, integrated_gradients, grad_cam, "
                        "competitive_gradient_x_input, rectified_gradient_unbiased, occlusion "
                        "(default gradient_squared)")
    p.add_argument("--target", type=int, default=None, help="class to explain (default: the prediction)")
    p.add_argument("--size", type=int, default=224,
                   help=f"images are brought to SIZE x SIZE, at most {MAX_FRAME}: shorter side resized, "
                        "centre crop (default 224)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a method option, e.g. steps=32 or baseline=blurred (repeatable)")
    p.add_argument("--out", type=Path, required=True, help="folder for the PNG maps")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help=TIMEOUT_HELP)
    p.set_defaults(func=run)


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["steps=32", "baseline=blurred"]`` -> ``{"steps": 32, "baseline": "blurred"}``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--option must look like KEY=VALUE, got {pair!r}")
        value: Any = text
        for convert in (int, float):
            try:
                value = convert(text)
                break
            except ValueError:
                continue
        options[key] = value
    return options


def load_model(spec: str, architecture: str | None, timeout: float | None = None, size: int = 224) -> Any:
    """``--model``: a zoo name, else a model file through the zoo's safe loader (``cli.zoo.load_model_arg``),
    run in a separate process with ``timeout`` seconds per forward pass."""
    from saliency_core.cli.zoo import load_model_arg

    return load_model_arg(spec, architecture, separate_process=True, timeout=timeout, size=size)


def read_frames(paths: list[Path], size: int, command: str) -> tuple[list[Path], list[Any]]:
    """The images at ``paths`` in the ``size`` x ``size`` model frame (shorter side resized, centre
    crop: the frame of ``occlusion`` and ``audit``), through the library's one safe reader.

    A file it refuses is named with its reason on stderr, one line each, and the rest go on.
    When none is readable, that is the error (one line naming each file and why).
    """
    import sys

    from saliency_core.data import to_model_frame
    from saliency_core.data.image_file import read_image

    kept, frames, refused = [], [], []
    for path in paths:
        try:  # regular files only (never a pipe or device), verified, pixel-capped, one frame, no strips
            frames.append(to_model_frame(read_image(path, name=str(path)), size))
            kept.append(path)
        except (ValueError, FileNotFoundError) as err:  # one line, starting with the escaped file name
            refused.append(str(err))
    if not frames:
        raise ValueError(refused[0] if len(refused) == 1
                         else f"none of the {len(refused)} images could be read: " + "; ".join(refused))
    for reason in refused:
        print(f"saliency-lab {command}: skipped {reason}", file=sys.stderr)
    return kept, frames


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from PIL import Image

    from saliency_core.data.files import shown_name
    from saliency_core.data.frame import check_frame_size
    from saliency_core.render import scale_map
    from saliency_core.zoo.model_process import explain  # in the model file's process, if it has one

    check_frame_size(args.size, "--size")  # before anything is read or allocated
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {shown_name(args.out)} is a file; --out names a folder for the PNG maps")
    options = parse_options(args.option)
    # the CLI is the caller: eval is its business
    model = load_model(args.model, args.architecture, args.timeout, args.size).eval()
    paths, pictures = read_frames(args.images, args.size, "explain")
    args.out.mkdir(parents=True, exist_ok=True)  # a bad --out fails before the work, not after
    result = explain(model, torch.stack(pictures), args.method, target=args.target, **options)

    for path, saliency, target, probabilities in zip(
        paths, result.maps, result.target, result.probabilities
    ):
        # Scale by the 99th percentile so that a few extreme pixels do not wash out the map.
        pixels = (scale_map(saliency, clip_percentile=99.0) * 255 + 0.5).astype(np.uint8)
        destination = args.out / f"{path.stem}_{args.method}.png"
        Image.fromarray(pixels).save(destination)  # 2-D uint8 -> 8-bit grayscale
        print(f"{shown_name(path)}: class {int(target)} (p={float(probabilities[target]):.3f}) "
              f"-> {shown_name(destination)}")
    return 0
