"""`saliency-lab explain`: saliency maps of a few images as grayscale PNGs.

    saliency-lab explain --model model.pt --method integrated_gradients --option steps=32 \\
        --input-size 224 --normalize imagenet --class 3 --out maps/ cat1.jpg cat2.jpg

Each image gets ``NAME_METHOD.png`` (the map at the model's resolution, grayscale) and
``NAME_METHOD_photo.png`` (the map on the original photo; parts the crop cut off left uncoloured).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from saliency_core.cli import preprocess as preprocess_options
from saliency_core.cli.zoo import TIMEOUT_HELP


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
    p.add_argument("--target", type=int, default=None, help="output index to explain (as --class INDEX)")
    preprocess_options.add_arguments(p, 224)
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


def load_model(spec: str, architecture: str | None, timeout: float | None = None, size: int = 224,
               preprocess: Any = None) -> Any:
    """``--model``: a zoo name, else a model file through the zoo's safe loader (``cli.zoo.load_model_arg``),
    run in a separate process with ``timeout`` seconds per forward pass (behind ``preprocess``'s
    normalisation, when given)."""
    from saliency_core.cli.zoo import load_model_arg

    return load_model_arg(spec, architecture, separate_process=True, timeout=timeout, size=size,
                          preprocess=preprocess)


def read_frames(paths: list[Path], size: int, command: str, preprocess: Any = None,
                photos: list[Any] | None = None) -> tuple[list[Path], list[Any]]:
    """The images at ``paths`` in the ``size`` x ``size`` model frame (shorter side resized, centre
    crop: the frame of ``occlusion`` and ``audit``; or ``preprocess.frame``), through the
    library's one safe reader. With a ``photos`` list, each kept image's upright RGB photo
    (``Preprocess.photo``) is appended to it.

    A file it refuses is named with its reason on stderr, one line each, and the rest go on.
    When none is readable, that is the error (one line naming each file and why).
    """
    import sys

    from saliency_core.data import to_model_frame
    from saliency_core.data.image_file import read_image

    kept, frames, refused = [], [], []
    for path in paths:
        try:  # regular files only (never a pipe or device), verified, pixel-capped, one frame, no strips
            image = read_image(path, name=str(path))
            frames.append(preprocess.frame(image) if preprocess is not None else to_model_frame(image, size))
            if photos is not None:
                photos.append(preprocess.photo(image) if preprocess is not None else None)
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
    from saliency_core.render import scale_map
    from saliency_core.zoo.model_process import explain  # in the model file's process, if it has one

    pre = preprocess_options.from_args(args)  # before anything is read or allocated
    if args.target is not None and args.class_ is not None:
        raise ValueError("--target and --class both choose the class: give one")
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {shown_name(args.out)} is a file; --out names a folder for the PNG maps")
    options = parse_options(args.option)
    # the CLI is the caller: eval is its business; the model comes behind --normalize
    model = load_model(args.model, args.architecture, args.timeout, pre.size, preprocess=pre).eval()
    pre = preprocess_options.with_class(pre, args, model)
    photos: list[Any] = []
    paths, pictures = read_frames(args.images, pre.size, "explain", preprocess=pre, photos=photos)
    args.out.mkdir(parents=True, exist_ok=True)  # a bad --out fails before the work, not after
    target = args.target if args.target is not None else pre.target
    result = explain(model, torch.stack(pictures), args.method, target=target, **options)

    for path, photo, saliency, target, probabilities in zip(
        paths, photos, result.maps, result.target, result.probabilities
    ):
        # Scale by the 99th percentile so that a few extreme pixels do not wash out the map.
        pixels = (scale_map(saliency, clip_percentile=99.0) * 255 + 0.5).astype(np.uint8)
        destination = args.out / f"{path.stem}_{args.method}.png"
        Image.fromarray(pixels).save(destination)  # 2-D uint8 -> 8-bit grayscale
        Image.fromarray(photo_overlay(pre, photo, saliency)).save(args.out / f"{path.stem}_{args.method}_photo.png")
        name = pre.class_name(int(target))
        shown = f"class {int(target)}" + (f" ({name})" if name != str(int(target)) else "")
        print(f"{shown_name(path)}: {shown} (p={float(probabilities[target]):.3f}) "
              f"-> {shown_name(destination)}")
    return 0


def photo_overlay(pre: Any, photo: Any, saliency: Any, box: Any = None) -> Any:
    """``uint8 [H,W,3]``: the map (at the model's resolution) coloured over the original ``photo``
    (``Preprocess.photo``); photo pixels the model never saw (cut off by the crop) stay uncoloured,
    dimmed. ``box``: a frame box drawn where it lies on the photo."""
    import numpy as np

    from saliency_core.render import draw_box, overlay

    height, width = photo.shape[:2]
    on_photo = pre.to_original(saliency, (width, height)).numpy()
    unseen = np.isnan(on_photo)
    picture = overlay(photo, np.nan_to_num(on_photo, nan=0.0))
    picture[unseen] = (photo[unseen] * 0.6).astype(np.uint8)
    if box is not None:
        nw, nh, left, top = pre.geometry((width, height))
        x0, y0, x1, y1 = box
        sx, sy = width / nw, height / nh
        picture = draw_box(picture, (round((x0 + left) * sx), round((y0 + top) * sy),
                                     round((x1 + left) * sx), round((y1 + top) * sy)))
    return picture
