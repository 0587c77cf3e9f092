"""`saliency-lab occlusion`: occlusion maps (and the watermark-box share) for image files.

``--grid N`` instead hides each cell of an N×N grid in turn (the dashboard's automatic occlusion)
and reports the cell whose hiding lowers the predicted class's probability most.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from saliency_core.cli import preprocess as preprocess_options
from saliency_core.cli.zoo import TIMEOUT_HELP
from saliency_core.data.frame import FRAME

if TYPE_CHECKING:
    from torch import Tensor

    from saliency_core.methods.base import Model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("occlusion", help="occlusion maps of images, with the share of top pixels in a region")
    p.add_argument("images", nargs="+", type=Path, help="image files")
    p.add_argument("--model", default="watermark-100", help="zoo model name or a model file (default: watermark-100)")
    p.add_argument("--architecture", default=None, help="architecture name for a safetensors model file")
    p.add_argument("--window", type=int, default=None, help="sliding window in pixels (default 16)")
    p.add_argument("--stride", type=int, default=None, help="window step in pixels (default 8)")
    p.add_argument("--region", default=None,
                   help="x0,y0,x1,y1 (x1/y1 exclusive) in the N x N model frame (--input-size; e.g. a "
                        "watermark box), or in the photo's own pixels with --region-in photo")
    p.add_argument("--region-in", choices=("frame", "photo"), default="frame",
                   help="what --region's pixels are: the model frame (default) or each photo's own pixels")
    p.add_argument("--percent", type=float, default=None, help="top-percent of pixels counted as salient (default 0.5)")
    p.add_argument("--mode", choices=("exact", "naive", "fast"), default=None,
                   help="exact (incremental inference, default), naive (full inference) or fast "
                        "(approximate drill-down; see docs/PERFORMANCE.md for its error)")
    p.add_argument("--grid", type=int, default=None, metavar="N",
                   help="hide each cell of an N×N grid in turn instead of sliding a window")
    preprocess_options.add_arguments(p, FRAME, ", the demo models' frame")
    p.add_argument("--out", type=Path, default=None, help="folder for PNG overlays (on the original photos)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help=TIMEOUT_HELP)
    p.set_defaults(func=run)


def load_cli_model(spec: str, architecture: str | None, timeout: float | None = None, preprocess=None):
    """A zoo name, else a model file (never unpickled): the one resolution explain and audit use;
    a file runs in a separate process with ``timeout`` seconds per forward pass; behind
    ``preprocess``'s normalisation when given."""
    from saliency_core.cli.zoo import load_model_arg

    return load_model_arg(spec, architecture, separate_process=True, timeout=timeout, preprocess=preprocess)


def run(args: argparse.Namespace) -> int:
    import cv2
    import torch

    import saliency_core as sc
    from saliency_core.checks import parse_box
    from saliency_core.cli.explain import photo_overlay, read_frames
    from saliency_core.cli.region import parse_region
    from saliency_core.data.files import shown_name
    from saliency_core.zoo import model_process  # runs a model file's work in its process

    pre = preprocess_options.from_args(args)  # before anything is read or allocated
    in_photo = bool(args.region) and args.region_in == "photo"
    box = parse_region(args.region, pre.size, "model frame") if args.region and not in_photo else None
    if args.grid is not None:
        sc.cell_grid(args.grid, pre.size)  # a bad N is an error before any work
        ignored = [f"--{name}" for name in ("window", "stride", "region", "percent", "mode")
                   if getattr(args, name) is not None] + (["--class"] if args.class_ is not None else [])
        if ignored:
            raise ValueError(f"--grid hides whole cells; {', '.join(ignored)} only apply to the sliding window")
    window = 16 if args.window is None else args.window
    stride = 8 if args.stride is None else args.stride
    percent, mode = args.percent if args.percent is not None else 0.5, args.mode or "exact"
    model = load_cli_model(args.model, args.architecture, args.timeout, preprocess=pre)
    pre = preprocess_options.with_class(pre, args, model)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    photos: list = []
    paths, frames = read_frames(args.images, pre.size, "occlusion", preprocess=pre, photos=photos)
    for path, photo, image in zip(paths, photos, frames):
        batch = image[None]
        if args.grid is not None:
            _grid_report(model, image, path, args)
            continue
        maps = model_process.occlusion(model, batch, window=window, stride=stride, mode=mode, target=pre.target)
        with torch.no_grad():
            probs = model(batch).softmax(1)[0]
        line = f"{shown_name(path.name)}: class {int(probs.argmax())} p={float(probs.max()):.3f}"
        if pre.target is not None:
            name = f" ({pre.class_name(pre.target)})" if pre.classes is not None else ""
            line += f", explaining class {pre.target}{name} p={float(probs[pre.target]):.3f}"
        if in_photo:  # the photo's pixels, into this photo's frame
            height, width = photo.shape[:2]
            typed = parse_box(args.region, width=width, height=height, name="--region", frame="photo")
            box = pre.to_frame_box(typed, (width, height), name="--region")
        if box:
            share = sc.metrics.top_percent_share(maps, torch.tensor([box]), percent)
            line += f", top-{percent:g}% share in region {float(share[0]):.3f}"
        print(line)
        if args.out:
            picture = photo_overlay(pre, photo, maps[0], box)
            cv2.imwrite(str(args.out / f"{path.stem}_occlusion.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    return 0


def _grid_report(model: Model, image: Tensor, path: Path, args: argparse.Namespace) -> None:
    """One line per image: the prediction and the cell whose hiding lowers it most; with ``--out``,
    a PNG of the probabilities with each cell hidden (3x the model frame)."""
    import cv2

    from saliency_core.data.files import shown_name
    from saliency_core.render import grid_overlay, resize, to_uint8
    from saliency_core.zoo import model_process

    result = model_process.cell_occlusion(model, image[None], args.grid)
    cls = int(result.base[0].argmax())
    p_clean = float(result.base[0, cls])
    with_cell = result.cells[0, :, cls]
    worst = int(with_cell.argmin())
    p_hidden = float(with_cell[worst])
    effect = "lowers it most, to" if p_hidden < p_clean else "lowers it least (no cell lowers it), to"
    print(f"{shown_name(path.name)}: class {cls} p={p_clean:.3f}; hiding {result.grid.label(worst)} "
          f"of {args.grid}x{args.grid} {effect} p={p_hidden:.3f}")
    if args.out:
        # Two classes: the dashboard's scale, P(class 1) from orange (class 0) to purple (class 1);
        # otherwise the predicted class's probability.
        shown = result.cells[0, :, 1] if result.cells.shape[-1] == 2 else with_cell
        big = resize(to_uint8(image), (3 * result.grid.height, 3 * result.grid.width))
        picture = grid_overlay(big, shown.reshape(args.grid, args.grid).numpy(), edges=result.grid.col_edges,
                               frame=result.grid.width)
        cv2.imwrite(str(args.out / f"{path.stem}_grid{args.grid}.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
