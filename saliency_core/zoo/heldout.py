"""The two held-out sets the zoo-v2 targets are measured on, and the measurements.

* Kaggle: the demo's 200 test cats + 200 test dogs (``data.demo``), each clean and watermarked;
* Oxford: the 938 photos of ``oxford-pets-subset`` (498 cats, 440 dogs) with their pet masks,
  each clean and watermarked (watermark seed = position, as in ``data.demo.quadrant_set``).

Per quadrant (cat/dog x watermark yes/no): n, accuracy, mean share of the top-0.5% gradient²
pixels inside the watermark box; per model the counterfactual flip rates with Wilson intervals
and the share of top-0.5% pixels on the pet masks.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from saliency_core.artefacts import box_of, cage, watermark, watermark_region
from saliency_core.data.demo import QUADRANTS, QuadrantSet, quadrant_name
from saliency_core.data.frame import frame_array, mask_frame
from saliency_core.data.loaders import CLASSES

PERCENT = 0.5


@dataclass(frozen=True)
class HeldOut:
    quads: QuadrantSet
    masks: Tensor | None  # bool [N, S, S] pet masks of the N clean photos (Oxford only)


def oxford_images(root: Path, size: int = 128, cache: Path | None = None) -> tuple[Tensor, Tensor, Tensor, tuple[str, ...]]:
    """(images float [N,3,S,S], labels [N], pet masks bool [N,S,S], files) of the Oxford subset."""
    if cache is not None and cache.is_file():
        d = torch.load(cache, weights_only=True)
        return d["frames"].float() / 255, d["labels"], d["masks"], tuple((cache.with_suffix(".txt")).read_text().splitlines())
    rows = list(csv.DictReader((root / "MANIFEST.csv").open(newline="")))
    frames, masks = [], []
    for r in rows:
        with Image.open(root / r["file"]) as im:
            frames.append(frame_array(im, size))
        with Image.open(root / r["mask_file"]) as m:
            masks.append(mask_frame(np.asarray(m), size) != 2)  # 1 pet, 3 border: animal (as data.loaders)
    f = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor([CLASSES.index(r["species"]) for r in rows])
    mk = torch.from_numpy(np.stack(masks))
    files = tuple(r["file"] for r in rows)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"frames": f, "labels": labels, "masks": mk}, cache)
        cache.with_suffix(".txt").write_text("\n".join(files))
    return f.float() / 255, labels, mk, files


def quadrants(clean: Tensor, labels: Tensor, files: tuple[str, ...]) -> QuadrantSet:
    marked = clean.clone()
    boxes = []
    for j in range(len(clean)):
        marked[j], _ = watermark(clean[j], seed=j)
        boxes.append(box_of(watermark_region(clean.shape[2], clean.shape[3], seed=j)))
    box = torch.tensor(boxes, dtype=torch.long)
    n = len(clean)
    return QuadrantSet(images=torch.cat([clean, marked]), labels=torch.cat([labels, labels]),
                       marked=torch.cat([torch.zeros(n, dtype=torch.bool), torch.ones(n, dtype=torch.bool)]),
                       boxes=torch.cat([box, box]), files=files + files)


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch: int = 100) -> Tensor:
    model.eval()
    return torch.cat([model(x[s:s + batch].contiguous(memory_format=torch.channels_last)).argmax(1)
                      for s in range(0, len(x), batch)])


def grad_squared(model: nn.Module, x: Tensor, batch: int = 50) -> Tensor:
    """Squared input gradient of the predicted class's logit, max over channels ([B,H,W], as
    ``methods.gradient_squared``)."""
    model.eval()
    out = []
    for s in range(0, len(x), batch):
        xx = x[s:s + batch].contiguous(memory_format=torch.channels_last).requires_grad_(True)
        logits = model(xx)
        logits.gather(1, logits.argmax(1, keepdim=True)).sum().backward()
        assert xx.grad is not None
        out.append(xx.grad.pow(2).amax(1))
    return torch.cat(out)


def top_share(maps: Tensor, region: Tensor, percent: float = PERCENT) -> Tensor:
    """Share of each map's top-``percent``% pixels inside ``region`` (boxes [B,4] or masks [B,H,W]).

    Plain torch, k = round(H*W*percent/100) pixels; pixels tied with the k-th count as salient
    (the convention of ``metrics.top_percent_share``, against which it is cross-checked)."""
    b, h, w = maps.shape
    k = max(1, round(h * w * percent / 100))
    if region.dim() == 2:
        m = torch.zeros(b, h, w, dtype=torch.bool)
        for j, (x0, y0, x1, y1) in enumerate(region.tolist()):
            m[j, y0:y1, x0:x1] = True
        region = m
    flat = maps.reshape(b, -1)
    thr = flat.topk(k, 1).values[:, -1:]
    top = flat >= thr
    return (top & region.reshape(b, -1).bool()).sum(1).float() / top.sum(1).float()


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    d = 1 + z * z / n
    return max(0.0, (centre - half) / d), min(1.0, (centre + half) / d)


def greyscale(x: Tensor) -> Tensor:
    from saliency_core.metrics import greyscale as g
    return g(x)


def hue180(x: Tensor) -> Tensor:
    from saliency_core.metrics import hue_shift
    return hue_shift(x, 180.0)


def each_cage(x: Tensor) -> Tensor:
    return torch.stack([cage(im, seed=j)[0] for j, im in enumerate(x)])


COUNTERFACTUALS = {"greyscale": greyscale, "hue +180": hue180, "cage bars": each_cage}


def measure(model: nn.Module, held: HeldOut, saliency: bool = True,
            counterfactuals: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Everything the targets need, for one model on one held-out set (``counterfactuals``: names
    from ``COUNTERFACTUALS``, default all). Runs channels-last (~1.5-2x faster on CPU)."""
    q = held.quads
    model = model.to(memory_format=torch.channels_last)
    pred = predict(model, q.images)
    out: dict[str, Any] = {"quadrants": {}}
    maps = grad_squared(model, q.images) if saliency else None
    share = top_share(maps, q.boxes) if maps is not None else None
    for species, marked in QUADRANTS:
        idx = q.quadrant(species, marked)
        row: dict[str, Any] = {"n": len(idx), "accuracy": round(float((pred[idx] == q.labels[idx]).float().mean()), 4)}
        if share is not None:
            row["mean_share"] = round(float(share[idx].mean()), 4)
        out["quadrants"][quadrant_name(species, marked)] = row
    clean = ~q.marked
    x, y = q.images[clean], q.labels[clean]
    p0 = pred[clean]
    out["clean_accuracy"] = round(float((p0 == y).float().mean()), 4)
    out["n_clean"] = int(clean.sum())
    flips: dict[str, Any] = {}
    for name, fn in COUNTERFACTUALS.items():
        if counterfactuals is not None and name not in counterfactuals:
            continue
        p1 = predict(model, fn(x))
        f = p1 != p0
        row = {}
        for label, cname in enumerate(CLASSES):
            sel = y == label
            k, n = int(f[sel].sum()), int(sel.sum())
            row[cname] = {"n": n, "flips": k, "rate": round(k / n, 4), "ci95": [round(v, 4) for v in wilson(k, n)]}
        k, n = int(f.sum()), len(f)
        row["all"] = {"n": n, "flips": k, "rate": round(k / n, 4), "ci95": [round(v, 4) for v in wilson(k, n)]}
        row["accuracy_after"] = round(float((p1 == y).float().mean()), 4)
        flips[name] = row
    out["flips"] = flips
    if maps is not None and held.masks is not None:
        s = top_share(maps[clean], held.masks)
        out["pet_mask_share"] = {"mean": round(float(s.mean()), 4), "n": len(s),
                                 "cat": round(float(s[y == 0].mean()), 4), "dog": round(float(s[y == 1].mean()), 4)}
    return out


__all__ = ["HeldOut", "measure", "oxford_images", "quadrants", "top_share"]
