"""The demo audit report: every bias statistic of a set of models on one watermark test set.

>>> data = demo_audit_data(data_dir(), per_class=100)   # each photo clean and watermarked
>>> report = build_report({"normal": normal, "watermark-100": marked}, data)
>>> report.aurrac                                        # one table per statistic

Nine tables: the per-image ``audit`` table (:func:`saliency_core.audit.run`); per-class
``global_saliency`` on the watermark (share, Pfau et al.'s n and m, bootstrap CIs); the
``response_curve`` and ``aurrac`` of refusing images by their saliency on the mark; the
``sanity`` checks (Adebayo et al.); ``core_spurious`` accuracy under noise on the mark vs the
rest; ``counterfactual`` flip rates (greyscale, hue shift, cage bars, a watermark). When the photos
have pet masks (the built-in set), two more: ``pet_saliency``, the share of each map's saliency on
the animal, the watermark and the background (and of its top-0.5% pixels on the animal), and
``pet_core_spurious``, accuracy under noise on the animal (core, its mask) vs the watermark box
(spurious), as in Salient ImageNet. Without masks (the Kaggle photos) those two are empty.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from saliency_core import metrics
from saliency_core.artefacts import cage, watermark
from saliency_core.checks import region_masks
from saliency_core.audit.run import ExplainFn, run
from saliency_core.data.loaders import CLASSES
from saliency_core.data.quadrants import first_of_each, load_held_out, marked_photos
from saliency_core.methods import explain as default_explain
from saliency_core.metrics import top_percent_share

AUDIT_METHOD = "gradient_squared"  # the explorable's less noisy map
SANITY_METHOD = "vanilla_gradient"  # the method Adebayo et al.'s sanity checks are best known for
SIGMAS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4, 0.8)
PER_CLASS = 100  # demo photos per class (each clean and watermarked)
SANITY_IMAGES = 8
BATCH = 32

Progress = Callable[[float, str], None]  # progress(fraction done, what is being done)


@dataclass(frozen=True)
class AuditData:
    """Images with truth, watermark flags and boxes (the box where the mark is or would be)."""

    images: torch.Tensor  # [N,3,H,W] float in [0,1]
    labels: torch.Tensor  # [N] int64
    marked: torch.Tensor  # [N] bool
    boxes: torch.Tensor  # [N,4] float
    ids: tuple[str, ...]
    pet_masks: torch.Tensor | None = None  # [N,H,W] bool, True on the animal (None: no masks)
    mark_masks: torch.Tensor | None = None  # [N,H,W] bool, the exact watermark pixels (all False if clean)


@dataclass(frozen=True)
class AuditReport:
    """The report's tables (see the module docstring); ``tables()`` gives them by name."""

    audit: pd.DataFrame
    global_saliency: pd.DataFrame
    response_curve: pd.DataFrame
    aurrac: pd.DataFrame
    sanity: pd.DataFrame
    core_spurious: pd.DataFrame
    counterfactual: pd.DataFrame
    pet_saliency: pd.DataFrame
    pet_core_spurious: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in TABLES}


TABLES: tuple[str, ...] = tuple(f.name for f in fields(AuditReport))
PET_REGIONS: tuple[str, ...] = ("animal", "watermark", "background")
# pet_saliency's statistics: the share of the map's total saliency on each region, the share of its
# top-0.5% pixels on the animal, and the animal's share of the frame (what a uniform map would give).
PET_STATISTICS: tuple[str, ...] = (*PET_REGIONS, "animal_top", "animal_area")
PET_SALIENCY_COLUMNS = ["model", "watermarked", "statistic", "class", "n", "mean", "ci_low", "ci_high"]
PET_CORE_SPURIOUS_COLUMNS = ["sigma", "region", "accuracy", "n", "model"]


def demo_audit_data(root: Path, per_class: int = PER_CLASS) -> AuditData:
    """The first ``per_class`` cats and dogs of the demo test set under ``root``: all clean, then
    the same photos watermarked (each photo's mark is the one every other consumer gives it)."""
    photos = load_held_out(root)
    chosen = first_of_each(photos, per_class)
    positions = [*chosen["cat"], *chosen["dog"]]
    rows = marked_photos(photos, [(p, m) for m in (False, True) for p in positions])
    ids = tuple(f"{file}{'|watermark' if m else ''}" for file, m in zip(rows.files, rows.marked))
    return AuditData(images=rows.images, labels=torch.tensor([CLASSES.index(c) for c in rows.labels]),
                     marked=torch.tensor(rows.marked, dtype=torch.bool), boxes=rows.boxes, ids=ids,
                     pet_masks=rows.pet_masks, mark_masks=rows.masks)


def pet_region_saliency(maps: torch.Tensor, pet: torch.Tensor, mark: torch.Tensor,
                        percent: float = 0.5) -> dict[str, torch.Tensor]:
    """Per image [B]: the share of each map's saliency (|g|, summed) on the animal (``pet`` and not
    ``mark``), the watermark (``mark``) and the background (the rest), which add up to 1 (all
    three 0 for an all-zero map); ``animal_top``, the share of its top-``percent``% pixels on the
    animal; ``animal_area``, the animal's share of the frame. ``maps`` [B,H,W], masks bool [B,H,W]."""
    maps = maps.detach().float().abs().cpu()
    pet, mark = pet.bool().cpu(), mark.bool().cpu()
    animal = pet & ~mark
    total = maps.flatten(1).sum(1)
    safe = torch.where(total > 0, total, torch.ones_like(total))
    out = {"animal": (maps * animal).flatten(1).sum(1) / safe,
           "watermark": (maps * mark).flatten(1).sum(1) / safe}
    out["background"] = torch.where(total > 0, 1 - out["animal"] - out["watermark"], torch.zeros_like(total))
    out["background"] = out["background"].clamp_(min=0.0)
    out["animal_top"] = top_percent_share(maps, animal, percent=percent).float().cpu()
    out["animal_area"] = animal.flatten(1).float().mean(1)
    return out


def _digest(image: torch.Tensor) -> bytes:
    return hashlib.blake2b(image.detach().float().cpu().contiguous().numpy().tobytes(), digest_size=16).digest()


def build_report(models: Mapping[str, nn.Module], data: AuditData, *, explain: ExplainFn = default_explain,
                 progress: Progress | None = None, random_model: nn.Module | None = None,
                 method: str = AUDIT_METHOD, sanity_method: str = SANITY_METHOD,
                 sigmas: tuple[float, ...] = SIGMAS) -> AuditReport:
    """Every table of the report, for ``models`` on ``data``.

    ``explain(model, images, method, **options)`` computes the maps (default
    :func:`saliency_core.explain`; pass one that holds a lock to share models between threads).
    ``progress(fraction, text)`` is called as work completes. ``random_model`` (trained on
    permuted labels) adds the data-randomisation sanity check.
    """
    report = progress or (lambda fraction, text: None)
    n = data.images.shape[0]

    def batches() -> Iterator[dict[str, Any]]:
        for start in range(0, n, BATCH):
            report(0.7 * start / n, f"Auditing images {start + 1}-{min(start + BATCH, n)} of {n}…")
            stop = start + BATCH
            yield {"ids": list(data.ids[start:stop]), "images": data.images[start:stop],
                   "labels": data.labels[start:stop], "boxes": data.boxes[start:stop],
                   "watermarked": data.marked[start:stop].tolist()}

    # With pet masks, the region shares are taken from the maps the audit computes anyway: the
    # wrapper finds each image's row by its content (any batching works), and rows it never saw
    # (another engine, another process) are explained again below.
    has_masks = data.pet_masks is not None
    rows_of = {_digest(image): row for row, image in enumerate(data.images)} if has_masks else {}
    names_of = {id(model): name for name, model in models.items()}
    pet_stats: dict[tuple[str, int], dict[str, float]] = {}

    def record(name: str, maps: torch.Tensor, rows: torch.Tensor) -> None:
        mark = data.mark_masks[rows] if data.mark_masks is not None else torch.zeros_like(data.pet_masks[rows])
        values = pet_region_saliency(maps, data.pet_masks[rows], mark)  # type: ignore[index]
        for k, row in enumerate(rows.tolist()):
            pet_stats[(name, row)] = {key: float(v[k]) for key, v in values.items()}

    def recording_explain(model: nn.Module, images: torch.Tensor, method_: str, **options: Any) -> Any:
        result = explain(model, images, method_, **options)
        if has_masks and method_ == method and id(model) in names_of:
            found = [(j, row) for j, image in enumerate(images) if (row := rows_of.get(_digest(image))) is not None]
            if found:
                at = torch.tensor([j for j, _ in found])
                record(names_of[id(model)], result.maps.detach()[at], torch.tensor([row for _, row in found]))
        return result

    table = run(models, [method], batches(), progress=False, explain=recording_explain)
    table["correct"] = table["prediction"] == table["truth"]
    if has_masks:
        for name, model in models.items():
            missing = [row for row in range(n) if (name, row) not in pet_stats]
            for start in range(0, len(missing), BATCH):
                index = torch.tensor(missing[start:start + BATCH])
                record(name, explain(model, data.images[index], method).maps.detach(), index)

    marked = table[table["watermarked"].astype(bool)]
    saliency_rows, curve_rows, area_rows = [], [], []
    for name in models:
        rows = marked[marked["model"] == name]
        for statistic in ("share", "n", "m"):
            part = metrics.per_class(rows[statistic].to_numpy(), rows["truth"].to_numpy(),
                                     class_names=CLASSES)
            saliency_rows.append(part.assign(model=name, statistic=statistic))
        curve = metrics.response_rate_curve(rows["share"].to_numpy(), rows["correct"].to_numpy())
        curve_rows.append(pd.DataFrame({"model": name, "threshold": curve.thresholds,
                                        "response_rate": curve.response_rate,
                                        "accuracy": curve.accuracy}))
        area_rows.append({"model": name, "aurrac": metrics.aurrac(rows["share"].to_numpy(),
                                                                  rows["correct"].to_numpy()),
                          "accuracy": float(rows["correct"].mean())})

    report(0.72, "Sanity checks: randomising the normal model layer by layer…")
    clean = torch.nonzero(~data.marked).flatten()
    sample = clean[torch.linspace(0, len(clean) - 1, min(SANITY_IMAGES, len(clean))).long()]
    sanity_model = models.get("normal", next(iter(models.values())))

    def sanity_explain(model: nn.Module, images: torch.Tensor) -> Any:
        return explain(model, images, sanity_method)

    sanity = [metrics.cascading_randomisation(sanity_model, data.images[sample], sanity_explain)]
    if random_model is not None:
        sanity.append(metrics.data_randomisation(sanity_model, random_model, data.images[sample],
                                                 sanity_explain))
    sanity_table = (pd.concat(sanity, ignore_index=True)
                    .groupby(["test", "step", "layer"], sort=False)[["spearman", "spearman_abs", "ssim", "hog"]]
                    .mean().reset_index())

    report(0.82, "Core/spurious accuracy: noise on the watermark vs the rest…")
    # The explorable's test set: watermarked cats, clean dogs (the box is where a mark would be).
    consistent = torch.nonzero((data.marked & (data.labels == 0)) | (~data.marked & (data.labels == 1))).flatten()
    core_rows = [metrics.core_spurious_accuracy(model, data.images[consistent], data.labels[consistent],
                                                data.boxes[consistent], sigmas).assign(model=name)
                 for name, model in models.items()]

    report(0.9, "Counterfactual flip tests…")
    transforms: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "greyscale": metrics.greyscale,
        "hue shift 180°": lambda x: metrics.hue_shift(x, 180.0),
        "add cage bars": lambda x: cage(x, seed=0)[0],
        "add watermark": lambda x: torch.stack([watermark(img, seed=i)[0] for i, img in enumerate(x)]),
    }
    flip_rows = [metrics.flip_rates(model, data.images[clean], data.labels[clean], transform,
                                    class_names=CLASSES).assign(model=name, transform=label)
                 for name, model in models.items() for label, transform in transforms.items()]
    pet_rows, pet_core_rows = [], []
    if has_masks:
        report(0.96, "Saliency on the animal; noise on the animal vs the watermark…")
        assert data.pet_masks is not None
        pet_rows = [_pet_saliency_rows(name, pet_stats, data) for name in models]
        spurious = region_masks(data.boxes[consistent], *data.pet_masks[consistent].shape)
        core = data.pet_masks[consistent] & ~spurious
        pet_core_rows = [metrics.core_spurious_accuracy(model, data.images[consistent], data.labels[consistent],
                                                        data.boxes[consistent], sigmas, core=core).assign(model=name)
                         for name, model in models.items()]
    report(1.0, "Done")
    return AuditReport(
        audit=table,
        global_saliency=pd.concat(saliency_rows, ignore_index=True),
        response_curve=pd.concat(curve_rows, ignore_index=True),
        aurrac=pd.DataFrame(area_rows),
        sanity=sanity_table,
        core_spurious=pd.concat(core_rows, ignore_index=True),
        counterfactual=pd.concat(flip_rows, ignore_index=True),
        pet_saliency=(pd.concat(pet_rows, ignore_index=True) if pet_rows
                      else pd.DataFrame(columns=PET_SALIENCY_COLUMNS)),
        pet_core_spurious=(pd.concat(pet_core_rows, ignore_index=True) if pet_core_rows
                           else pd.DataFrame(columns=PET_CORE_SPURIOUS_COLUMNS)),
    )


def _pet_saliency_rows(name: str, stats: Mapping[tuple[str, int], Mapping[str, float]], data: AuditData) -> pd.DataFrame:
    """Per (clean/watermarked, statistic): per-class means with bootstrap CIs plus an "all" row."""
    parts = []
    for marked in (False, True):
        rows = torch.nonzero(data.marked == marked).flatten().tolist()
        if not rows:
            continue
        labels = data.labels[rows].numpy()
        for statistic in PET_STATISTICS:
            values = [stats[(name, row)][statistic] for row in rows]
            part = metrics.per_class(values, labels, class_names=CLASSES)
            mean, low, high = metrics.bootstrap_ci(values)
            everything = pd.DataFrame([{"class": "all", "n": len(values), "mean": mean, "ci_low": low,
                                        "ci_high": high}])
            parts.append(pd.concat([part, everything], ignore_index=True)
                         .assign(model=name, watermarked=marked, statistic=statistic))
    return pd.concat(parts, ignore_index=True)[PET_SALIENCY_COLUMNS]


__all__ = ["AUDIT_METHOD", "PER_CLASS", "PET_REGIONS", "PET_STATISTICS", "SANITY_METHOD", "SIGMAS", "TABLES",
           "AuditData", "AuditReport", "Progress", "build_report", "demo_audit_data", "pet_region_saliency"]
