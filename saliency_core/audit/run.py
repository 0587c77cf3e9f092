"""The dataset audit: every image x model x method -> one row of bias statistics.

Columns: id, model, method, truth, prediction, confidence (probability of the prediction),
share (share of the top ``percent``% salient pixels inside the region: the explorable's metric),
m (mean saliency in the region), n (Pfau et al.'s peak share at the top ``peak_percent``%), any
extra per-image dataset values (e.g. ``watermarked``), and ``flip_<name>`` for each counterfactual
transform (whether argmax f(T(x)) differs from argmax f(x); one value per image and model).
Images without a region (no box, an empty box or mask) get NaN for share, m and n.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from saliency_core.audit.dataset import Batch, is_image_set, iter_batches
from saliency_core.audit.io import KEY, read_table, table_format, write_table
from saliency_core.checks import check_finite
from saliency_core.data.frame import FRAME
from saliency_core.data.loaders import IMAGE_SUFFIXES
from saliency_core.metrics import flips, mean_saliency, region_masks, top_percent_share

ExplainFn = Callable[..., Any]  # explain(model, images, method) -> Explanation
Transform = Callable[[Tensor], Tensor]


def _named_models(models: Mapping[str, nn.Module] | Sequence[nn.Module]) -> dict[str, nn.Module]:
    if isinstance(models, Mapping):
        named = {str(k): v for k, v in models.items()}
    else:
        named = {}
        for i, model in enumerate(models):
            name = type(model).__name__
            named[name if name not in named else f"{name}_{i}"] = model
    if not named:
        raise ValueError("no models given")
    return named


def _device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (CPU for parameter-free models): images go there."""
    parameter = next(iter(model.parameters()), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _count_images(dataset: Any) -> int | None:
    """The number of images for the progress bar, when it is cheap to know."""
    if isinstance(dataset, (str, Path)):
        root = Path(dataset)
        if not root.is_dir():
            return None
        return sum(1 for p in root.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if is_image_set(dataset):
        return len(dataset.labels)
    inner = getattr(dataset, "dataset", None)  # a DataLoader: count samples, not batches
    if inner is not None and hasattr(inner, "__len__"):
        return len(inner)
    return None


def _fixed_region(regions: Any) -> Tensor | None:
    if regions is None:
        return None
    region = torch.as_tensor(regions, dtype=torch.float32) if not isinstance(regions, Tensor) else regions
    if not ((region.dim() == 1 and region.numel() == 4) or region.dim() == 2):
        raise ValueError(f"regions must be one box (x0,y0,x1,y1) or one mask [H,W], got shape {tuple(region.shape)}")
    if region.is_floating_point() and not bool(torch.isfinite(region).all()):
        # (a dataset's own NaN box means "no region" for that image; a region the caller names must be real)
        raise ValueError(f"regions must be finite, got {region.tolist() if region.numel() == 4 else 'a mask with NaN/Inf'}")
    return region


def _batch_region(batch: Batch, fixed: Tensor | None) -> tuple[Tensor | None, Tensor]:
    """The batch's regions ([B,4] or [B,H,W]) and which images have a non-empty one."""
    n = len(batch)
    region = batch.regions
    if fixed is not None:
        region = fixed.expand(n, *fixed.shape)
    if region is None:
        return None, torch.zeros(n, dtype=torch.bool)
    if region.dim() == 2 and region.shape[1] == 4:
        region = region.float()
        finite = torch.isfinite(region).all(1)
        safe = torch.where(finite[:, None], region, torch.zeros_like(region))
        has = finite & (safe[:, 2] > safe[:, 0]) & (safe[:, 3] > safe[:, 1])
        return safe, has
    if region.dim() == 3:
        return region, (region != 0).flatten(1).any(1)
    raise ValueError(f"regions must be boxes [B,4] or masks [B,H,W], got shape {tuple(region.shape)}")


def run(
    models: Mapping[str, nn.Module] | Sequence[nn.Module],
    methods: Sequence[str],
    dataset: Iterable[Any] | str | Path,
    regions: Any = None,
    *,
    batch_size: int = 32,
    percent: float = 0.5,
    peak_percent: float = 1.0,
    out: str | Path | None = None,
    progress: bool = True,
    transforms: Mapping[str, Transform] | None = None,
    image_size: int = FRAME,
    checkpoint_seconds: float = 30.0,
    explain: ExplainFn | None = None,
) -> pd.DataFrame:
    """Audit ``dataset`` with every model x method; returns (and saves to ``out``) the table.

    ``dataset``: see :mod:`saliency_core.audit.dataset` (iterables of dicts/tuples, an ImageSet,
    a folder path; folders are read at ``image_size``, the data module's 128-pixel model frame by
    default). ``regions``: None (use the dataset's boxes/masks), one box (x0,y0,x1,y1) or one
    mask [H,W] for every image. With ``out``, rows (id, model, method) already in the file are skipped, new
    rows are appended, and the file is rewritten atomically every ``checkpoint_seconds`` and at the
    end (also when interrupted). ``explain`` defaults to ``saliency_core.explain``.
    """
    named = _named_models(models)
    methods = list(methods)
    if not methods or not all(isinstance(m, str) for m in methods):
        raise ValueError(f"methods must be a non-empty list of method names, got {methods!r}")
    transforms = dict(transforms or {})
    fixed = _fixed_region(regions)
    if explain is None:
        from saliency_core.methods import METHODS
        from saliency_core.methods import explain as default_explain

        unknown = [m for m in methods if m not in METHODS]
        if unknown:  # before any image is loaded
            raise ValueError(f"unknown saliency methods {unknown}; available: {', '.join(METHODS)}")
        explain = default_explain
    for name, value in (("percent", percent), ("peak_percent", peak_percent)):
        check_finite(name, value, low=0, high=100, closed="right")
    out_path = Path(out) if out is not None else None
    existing = None
    if out_path is not None:
        table_format(out_path)  # a bad extension fails before any work
        existing = read_table(out_path)
    done: set[tuple[str, str, str]] = set()
    if existing is not None:
        done = set(zip(existing["id"].astype(str), existing["model"], existing["method"]))

    new_parts: list[pd.DataFrame] = []
    unsaved = False
    last_save = time.monotonic()

    def save() -> None:
        nonlocal unsaved, last_save
        if out_path is not None and unsaved:
            write_table(_combine(existing, new_parts), out_path)
            unsaved, last_save = False, time.monotonic()

    bar = tqdm(total=_count_images(dataset), disable=not progress, desc="audit", unit="img")
    seen = 0
    try:
        for batch in iter_batches(dataset, batch_size, image_size):
            seen += len(batch)
            region, has_region = _batch_region(batch, fixed)
            for model_name, model in named.items():
                todo = {
                    method: torch.tensor([(i, model_name, method) not in done for i in batch.ids])
                    for method in methods
                }
                needed = torch.stack(list(todo.values())).any(0)
                if not needed.any():
                    continue
                images = batch.images.to(_device(model))
                flipped = {name: flips(model, images, t) for name, t in transforms.items()}
                for method, select in todo.items():
                    if select.any():
                        new_parts.append(_rows(batch, images, select, model_name, model, method, region,
                                               has_region, flipped, explain, percent, peak_percent))
                        unsaved = True
            bar.update(len(batch))
            if time.monotonic() - last_save >= checkpoint_seconds:
                save()
        if not seen:
            where = f"data folder {dataset}" if isinstance(dataset, (str, Path)) else "the dataset"
            raise ValueError(f"no images found in {where}")
    finally:
        bar.close()
        save()
    return _combine(existing, new_parts)


def _rows(
    batch: Batch, all_images: Tensor, select: Tensor, model_name: str, model: nn.Module, method: str,
    region: Tensor | None, has_region: Tensor, flipped: dict[str, Tensor], explain: ExplainFn,
    percent: float, peak_percent: float,
) -> pd.DataFrame:
    index = select.nonzero().flatten()
    result = explain(model, all_images[index.to(all_images.device)], method)
    maps = result.maps.detach().float().cpu()
    probabilities = result.probabilities.detach().float().cpu()
    confidence, prediction = probabilities.max(1)
    share = torch.full((len(index),), float("nan"))
    m, n = share.clone(), share.clone()
    if region is not None:
        inside = has_region[index]
        if inside.any():
            maps_in = maps[inside]
            masks = region_masks(region[index][inside], *maps_in.shape)  # validates the regions
            share[inside] = top_percent_share(maps_in, masks, percent=percent).float().cpu()
            n[inside] = top_percent_share(maps_in, masks, percent=peak_percent).float().cpu()
            m[inside] = mean_saliency(maps_in, masks).cpu()
    rows: dict[str, Any] = {
        "id": [batch.ids[i] for i in index.tolist()],
        "model": model_name,
        "method": method,
        "truth": batch.labels[index].numpy(),
        "prediction": prediction.numpy(),
        "confidence": confidence.numpy(),
        "share": share.numpy(),
        "m": m.numpy(),
        "n": n.numpy(),
    }
    for key, values in batch.extras.items():
        rows[key] = [values[i] for i in index.tolist()]
    for name, flip in flipped.items():
        rows[f"flip_{name}"] = flip[index.to(flip.device)].cpu().numpy()
    return pd.DataFrame(rows)


def _combine(existing: pd.DataFrame | None, parts: list[pd.DataFrame]) -> pd.DataFrame:
    frames = ([existing] if existing is not None else []) + parts
    if not frames:
        return pd.DataFrame(columns=[*KEY, "truth", "prediction", "confidence", "share", "m", "n"])
    table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    table["id"] = table["id"].astype(str)
    return table
