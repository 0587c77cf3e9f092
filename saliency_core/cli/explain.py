"""`saliency-lab explain`: saliency maps of a few images as grayscale PNGs.

    saliency-lab explain --model model.pt --method integrated_gradients --option steps=32 \\
        --out maps/ cat1.jpg cat2.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


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
    p.add_argument("--size", type=int, default=224, help="images are resized to SIZE x SIZE (default 224)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a method option, e.g. steps=32 or baseline=blurred (repeatable)")
    p.add_argument("--out", type=Path, required=True, help="folder for the PNG maps")
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


def load_model(spec: str, architecture: str | None) -> Any:
    """A model file through the zoo's safe loader (TorchScript, .pt2, safetensors), else a zoo name."""
    from saliency_core import zoo

    if Path(spec).is_file():
        return zoo.load_model(spec, architecture=architecture)
    return zoo.load(spec)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from PIL import Image

    from saliency_core.data.image_file import read_image
    from saliency_core.methods import explain
    from saliency_core.render import scale_map

    if args.size < 1:
        raise ValueError(f"--size must be a positive number of pixels, got {args.size}")
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} is a file; --out names a folder for the PNG maps")
    options = parse_options(args.option)
    model = load_model(args.model, args.architecture).eval()  # the CLI is the caller: eval is its business
    paths, pictures = [], []
    for path in args.images:
        # The same safe reader as `occlusion`: verified, pixel-capped, single frame, 16-bit scaled.
        try:
            image = read_image(path)
        except (ValueError, FileNotFoundError) as err:
            print(f"skipped {path}: {err}")
            continue
        rgb = image.resize((args.size, args.size), Image.Resampling.BILINEAR)
        paths.append(path)
        pictures.append(torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0).permute(2, 0, 1))
    if not pictures:
        return 1  # every image was skipped (each said why)
    args.out.mkdir(parents=True, exist_ok=True)  # a bad --out fails before the work, not after
    result = explain(model, torch.stack(pictures), args.method, target=args.target, **options)

    for path, saliency, target, probabilities in zip(
        paths, result.maps, result.target, result.probabilities
    ):
        # Scale by the 99th percentile so that a few extreme pixels do not wash out the map.
        pixels = (scale_map(saliency, clip_percentile=99.0) * 255 + 0.5).astype(np.uint8)
        destination = args.out / f"{path.stem}_{args.method}.png"
        Image.fromarray(pixels).save(destination)  # 2-D uint8 -> 8-bit grayscale
        print(f"{path}: class {int(target)} (p={float(probabilities[target]):.3f}) -> {destination}")
    return 0
