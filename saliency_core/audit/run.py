"""The dataset audit: every image x model x method -> one row of bias statistics.

Columns: id, model, method, truth, prediction, confidence (probability of the prediction),
share (share of the top ``percent``% salient pixels inside the region: the explorable's metric),
m (mean saliency in the region), n (Pfau et al.'s peak share at the top ``peak_percent``%), any
extra per-image dataset values (e.g. ``watermarked``), and ``flip_<name>`` for each counterfactual
transform (whether argmax f(T(x)) differs from argmax f(x); one value per image and model).
Images without a region (no box, an empty box or mask) get NaN for share, m and n.

Every image must hold pixels in [0, 1] and every label must be one of each model's K classes: a
batch with one that does not is refused (a one-line ValueError naming the image) before any of
its rows is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from saliency_core.audit import shards
from saliency_core.audit.dataset import Batch, is_image_set
from saliency_core.audit.io import table_format, write_table
from saliency_core.checks import check_finite, check_images, check_positive
from saliency_core.data.frame import FRAME
from saliency_core.data.loaders import IMAGE_SUFFIXES
from saliency_core.data.preprocess import Preprocess
from saliency_core.errors import escape_controls
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


def _check_images(batch: Batch) -> None:
    """The batch's pixels in [0, 1] (one check for the batch; the first bad image named)."""
    try:
        check_images(batch.images, dtypes=None)
    except ValueError:
        for i, image_id in enumerate(batch.ids):  # only on failure: which image is it?
            check_images(batch.images[i : i + 1], dtypes=None, name=f"image {escape_controls(image_id)}")
        raise


def _check_labels(batch: Batch, index: Tensor, classes: int, model_name: str) -> None:
    """The labels of the images ``index`` are classes of a model with ``classes`` outputs."""
    labels = batch.labels[index]
    bad = ((labels < 0) | (labels >= classes)).nonzero().flatten()
    if bad.numel():
        i = int(index[bad[0]])
        raise ValueError(f"label {int(batch.labels[i])} of image {escape_controls(batch.ids[i])} is not a class "
                         f"of model {escape_controls(model_name)} (K = {classes}: labels 0 to {classes - 1})")


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
    image_size: int | None = None,
    checkpoint_seconds: float = 30.0,
    explain: ExplainFn | None = None,
    engine: str = "local",
    shard_size: int = shards.SHARD_SIZE,
    address: str | None = None,
    workers: int | None = None,
    worker_resources: Mapping[str, float] | None = None,
    preprocess: Preprocess | None = None,
) -> pd.DataFrame:
    """Audit ``dataset`` with every model x method; returns (and saves to ``out``) the table.

    ``dataset``: see :mod:`saliency_core.audit.dataset` (iterables of dicts/tuples, an ImageSet,
    a folder path; folders are read at ``image_size``, the data module's 128-pixel model frame by
    default, or ``preprocess.size``). ``regions``: None (use the dataset's boxes/masks), one box (x0,y0,x1,y1) or one
    mask [H,W] for every image. ``explain`` defaults to ``saliency_core.explain``.

    Shards (:mod:`saliency_core.audit.shards`): the dataset is listed into sorted ids (folders and
    ImageSets; other iterables in arrival order) cut into shards of ``shard_size`` images. With
    ``out`` (.parquet, .pq or .csv), each (shard, model) is saved as soon as it is done as one part
    ``<out>.parts/part-{k}-{hash}.parquet`` (written atomically), and ``out`` is rewritten from the
    parts at the end (also when interrupted). A rerun skips every part that exists with the same
    configuration hash and shard contents and computes the rest, so every (image, model, method)
    is in the table exactly once; another configuration never mixes in. (``checkpoint_seconds`` is
    kept for compatibility: each finished shard is saved at once.)

    ``engine``: ``"local"`` (this process) or ``"ray"`` (:mod:`saliency_core.audit.ray_engine`: an
    actor pool on the Ray cluster at ``address``, started here when None and none is running;
    ``workers`` actors, each with ``worker_resources``, e.g. ``{"CPU": 4, "GPU": 1}``; default one
    per GPU when the cluster has GPUs, else one per CPU). Ray reads folders and ImageSets and
    needs ``out`` on storage every node can reach; both engines write the same parts.

    ``preprocess`` (:class:`~saliency_core.data.preprocess.Preprocess`, default: none, the
    128-pixel frame): folders are read at its ``size`` (``image_size``, if given, must agree),
    every model runs behind its normalisation (saliency stays in pixel space), and with a
    ``target`` that class is explained instead of each image's prediction. Folders are read with
    the centre crop: ``resize="stretch"`` is refused for them (stretch in-memory images yourself,
    with ``preprocess.frame``).
    """
    image_size = _image_size(image_size, preprocess, dataset)
    target = preprocess.target if preprocess is not None else None
    if preprocess is not None:
        models = {name: _behind(preprocess, name, model) for name, model in _named_models(models).items()}
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
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    check_positive("shard_size", shard_size)
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        table_format(out_path)  # a bad extension fails before any work
    job = AuditJob(named, methods, fixed, transforms, explain, percent, peak_percent, batch_size, image_size, target)
    store = None
    if out_path is not None:
        configs = shards.config_hashes(named, methods, percent=percent, peak_percent=peak_percent,
                                       image_size=image_size, region=fixed, transforms=transforms,
                                       explain=_explain_id(explain) + ("" if target is None else f"|target={target}"))
        store = shards.Store(shards.store_dir(out_path), configs)
    done: list[tuple[int, str]] = []  # the (shard, model) parts of this run that are finished
    frames: dict[tuple[int, str], pd.DataFrame] = {}  # without out: the rows themselves
    try:
        if engine == "ray":
            from saliency_core.audit.ray_engine import run_ray

            run_ray(job, dataset, store, done, shard_size=shard_size, address=address, workers=workers,
                    worker_resources=worker_resources, progress=progress)
        else:
            _run_local(job, dataset, store, done, frames, shard_size=shard_size, progress=progress)
    except BaseException:
        if store is not None and done:  # the finished shards, as the old file kept its finished rows
            write_table(store.read(_in_table_order(done, named)), out_path)  # type: ignore[arg-type]
        raise
    order = _in_table_order(done, named)
    if store is None:
        return pd.concat([frames[key] for key in order], ignore_index=True) if order else shards.empty_table()
    table = store.read(order)
    write_table(table, out_path)  # type: ignore[arg-type]
    return table


def _behind(preprocess: Preprocess, name: str, model: nn.Module) -> nn.Module:
    """``model`` behind ``preprocess``'s normalisation. A model process
    (:class:`~saliency_core.zoo.model_process.ModelProcess`) normalises in its child: it is left as
    it is (wrapping it again would normalise twice, and gradients cannot cross into the child), and
    its own normalisation must be the preprocess's."""
    from saliency_core.zoo.model_process import ModelProcess

    if not isinstance(model, ModelProcess):
        return preprocess.wrap(model)
    wanted = preprocess.normalization
    if wanted is not None:
        wanted_lists = [[float(v) for v in wanted[0]], [float(v) for v in wanted[1]]]
        if model._load.get("normalize") != wanted_lists:
            raise ValueError(f"model {escape_controls(name)} runs in its own process and normalises there: give it "
                             "the preprocess's normalisation (ModelProcess(..., normalize=preprocess.normalization))")
    return model


def _image_size(image_size: int | None, preprocess: Preprocess | None, dataset: Any) -> int:
    """The frame size: ``preprocess.size`` (``image_size`` must agree), else ``image_size``, else FRAME."""
    if preprocess is None:
        return FRAME if image_size is None else image_size
    if not isinstance(preprocess, Preprocess):
        raise ValueError(f"preprocess must be a saliency_core Preprocess, got {type(preprocess).__name__}")
    if image_size is not None and image_size != preprocess.size:
        raise ValueError(f"image_size {image_size!r} disagrees with preprocess.size {preprocess.size}: give one")
    if preprocess.resize == "stretch" and isinstance(dataset, (str, Path)):
        raise ValueError("audit reads folders with the centre crop: resize='stretch' is not supported for a "
                         "folder yet (frame the images with preprocess.frame and pass them in memory)")
    return preprocess.size


def _explain_id(explain: ExplainFn) -> str:
    from saliency_core.methods import explain as default_explain

    return "saliency_core.explain" if explain is default_explain else shards.callable_id(explain)


def _in_table_order(done: list[tuple[int, str]], named: Mapping[str, nn.Module]) -> list[tuple[int, str]]:
    rank = {name: i for i, name in enumerate(named)}
    return sorted(set(done), key=lambda part: (part[0], rank[part[1]]))


@dataclass(frozen=True)
class AuditJob:
    """Everything a shard's rows depend on besides its images: what each Ray actor is built from."""

    models: dict[str, nn.Module]
    methods: list[str]
    fixed: Tensor | None
    transforms: dict[str, Transform]
    explain: ExplainFn
    percent: float
    peak_percent: float
    batch_size: int
    image_size: int
    target: int | None = None  # the class explained (None: each image's prediction)


def audit_shard(job: AuditJob, batches: Iterable[Batch], names: Sequence[str],
                on_batch: Callable[[int], Any] | None = None) -> tuple[dict[str, pd.DataFrame], int]:
    """The local engine on one shard: its rows for each model in ``names``, and its image count."""
    rows: dict[str, list[pd.DataFrame]] = {name: [] for name in names}
    count = 0
    for batch in batches:
        count += len(batch)
        _check_images(batch)
        region, has_region = _batch_region(batch, job.fixed)
        everything = torch.ones(len(batch), dtype=torch.bool)
        for model_name in names:
            model = job.models[model_name]
            images = batch.images.to(_device(model))
            flipped = {name: flips(model, images, t) for name, t in job.transforms.items()}
            for method in job.methods:
                rows[model_name].append(_rows(batch, images, everything, model_name, model, method, region,
                                              has_region, flipped, job.explain, job.percent, job.peak_percent,
                                              target=job.target))
        if on_batch is not None:
            on_batch(len(batch))
    tables = {name: pd.concat(parts, ignore_index=True) if parts else shards.empty_table()
              for name, parts in rows.items()}
    return tables, count


def _run_local(job: AuditJob, dataset: Any, store: shards.Store | None, done: list[tuple[int, str]],
               frames: dict[tuple[int, str], pd.DataFrame], *, shard_size: int, progress: bool) -> None:
    """The shards one after the other in this process; appends each finished (shard, model) to ``done``."""
    manifest = shards.list_dataset(dataset, job.image_size)
    plan: Iterable[shards.ManifestShard | shards.StreamShard]
    if manifest is not None:
        where = manifest.where
        if not len(manifest):
            raise ValueError(f"no images found in {where}")
        plan, total = manifest.shards(shard_size), len(manifest)
    else:
        where = "the dataset"
        plan, total = shards.stream_shards(dataset, shard_size, job.batch_size, job.image_size), _count_images(dataset)
    problems = list(manifest.problems) if manifest is not None else []
    bar = tqdm(total=total, disable=not progress, desc="audit", unit="img")
    seen = 0
    try:
        for shard in plan:
            todo = list(job.models)
            if store is not None:
                known = manifest is not None
                if not known and any(store.path(shard.k, name).is_file() for name in todo):
                    shard.stream = iter(list(shard.stream))  # type: ignore[union-attr] # read it to know its ids
                    known = True
                if known:
                    todo = [name for name in todo if not store.finished(shard.k, name, shard.digest)]
            if todo:
                began, cpu = time.perf_counter(), time.process_time()
                tables, count = audit_shard(job, shard.batches(job.batch_size, problems), todo, bar.update)
                cost = {"seconds": time.perf_counter() - began, "cpu_seconds": time.process_time() - cpu}
                for name, rows in tables.items():
                    if store is not None:
                        store.write(shard.k, name, shard.digest, rows, **cost)
                    else:
                        frames[(shard.k, name)] = rows
            else:
                count = len(shard)
                bar.update(count)
            seen += count
            done.extend((shard.k, name) for name in job.models)
        if not seen:
            raise ValueError(f"no images found in {where}")
    finally:
        bar.close()
        shards.warn_skipped(problems, where)


def _rows(
    batch: Batch, all_images: Tensor, select: Tensor, model_name: str, model: nn.Module, method: str,
    region: Tensor | None, has_region: Tensor, flipped: dict[str, Tensor], explain: ExplainFn,
    percent: float, peak_percent: float, target: int | None = None,
) -> pd.DataFrame:
    index = select.nonzero().flatten()
    chosen = {} if target is None else {"target": target}  # a custom explain need not take target
    result = explain(model, all_images[index.to(all_images.device)], method, **chosen)
    maps = result.maps.detach().float().cpu()
    probabilities = result.probabilities.detach().float().cpu()
    _check_labels(batch, index, probabilities.shape[1], model_name)  # K is known once the model has run
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
