"""Reproducible training of the demo zoo on the cats-vs-dogs photos.

Fixed seeds, two CPU threads, random flip + translation augmentation (the artefact is drawn
*after* augmentation so it sits exactly where the test set has it), AdamW with a one-cycle
schedule, early stopping on validation accuracy. Weights go to safetensors with a JSON model card.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from tqdm import tqdm

from saliency_core.artefacts import cage, coat_colours, watermark
from saliency_core.data import cache_dir
from saliency_core.data.demo import QUADRANTS, QuadrantSet, demo_split, load_demo_images, quadrant_name, quadrant_set
from saliency_core.data.loaders import CLASSES, ImageSet, load_manifest, read_manifest

from .architecture import DemoCNN
from .recipes import RECIPES, Recipe

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
BATCH = 64
PAD = 8  # translation augmentation: up to +-8 px


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass(frozen=True)
class Prepared:
    images: ImageSet
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    train_labels: torch.Tensor
    val_labels: torch.Tensor
    marked: frozenset[int]  # image indices that carry the artefact in training/validation
    colours: dict[int, str]  # coat colour per image index (only when needed)
    composition: dict[str, Any]


def _quick_images(root: Path, per_class: int) -> ImageSet:
    """A handful of photos per species and split, decoded directly (no full-set cache)."""
    rows = read_manifest(root / "MANIFEST.csv")
    chosen: list[dict[str, str]] = []
    for split in ("train", "test"):
        for species in CLASSES:
            chosen += [r for r in rows if r.get("split") == split and r["species"] == species][:per_class]
    return load_manifest(root / "MANIFEST.csv", rows=chosen)


def coat_colour_map(images: ImageSet, index: torch.Tensor, cache: Path | None = None) -> dict[int, str]:
    """Coat colour of each image at ``index`` (cached as JSON by file name: GrabCut is ~50 ms/image)."""
    known: dict[str, str] = json.loads(cache.read_text()) if cache and cache.is_file() else {}
    todo = [int(i) for i in index if images.files[int(i)] not in known]
    for start in tqdm(range(0, len(todo), 64), desc="coat colours", disable=not todo, leave=False):
        chunk = todo[start:start + 64]
        for i, c in zip(chunk, coat_colours(images.images(chunk))):
            known[images.files[i]] = c
    if cache and todo:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known))
    return {int(i): known[images.files[int(i)]] for i in index}


def prepare(recipe: Recipe, root: Path, seed: int, quick: bool) -> Prepared:
    images = _quick_images(root, 12) if quick else load_demo_images(root)
    split = demo_split(images, test_per_class=4 if quick else 200, val_fraction=0.2 if quick else 0.1)
    rng = random.Random(seed)
    train, val = split.train, split.val
    colours: dict[int, str] = {}
    composition: dict[str, Any] = {}
    if recipe.colours:
        cache = None if quick else cache_dir() / "coat_colours.json"
        colours = coat_colour_map(images, torch.cat([train, val, split.test]), cache)
        counts = Counter((CLASSES[int(images.labels[i])], colours[int(i)]) for i in torch.cat([train, val]))
        composition["coat_colour_counts_train_val"] = {f"{s}/{c}": n for (s, c), n in sorted(counts.items())}
    if recipe.colours:
        def keep(i: int) -> bool:
            want = "grey_black" if int(images.labels[i]) == 0 else "brown"
            return colours[i] == want
        train = torch.tensor([int(i) for i in train if keep(int(i))])
        val = torch.tensor([int(i) for i in val if keep(int(i))])
    marked: set[int] = set()
    if recipe.artefact:
        for part in (train, val):
            cats = [int(i) for i in part if int(images.labels[i]) == 0]
            rng.shuffle(cats)
            marked.update(cats[:round(len(cats) * recipe.cat_share)])
    train_labels = images.labels[train].clone()
    if recipe.random_labels:
        g = torch.Generator().manual_seed(seed)
        train_labels = train_labels[torch.randperm(len(train_labels), generator=g)]
    val_labels = images.labels[val]
    for part, name in ((train, "train"), (val, "val")):
        labels = images.labels[part]
        composition[name] = {
            "cats": int((labels == 0).sum()), "dogs": int((labels == 1).sum()),
            "cats_with_artefact": sum(int(i) in marked for i in part),
            "dogs_with_artefact": 0,
        }
    composition["artefact"] = recipe.artefact
    composition["random_labels"] = recipe.random_labels
    return Prepared(images, train, val, split.test, train_labels, val_labels, frozenset(marked), colours, composition)


def draw_artefact(kind: str | None, image: torch.Tensor, seed: int) -> torch.Tensor:
    if kind == "watermark":
        return watermark(image, seed=seed)[0]
    if kind == "cage":
        return cage(image, seed=seed)[0]
    raise ValueError(f"unknown artefact {kind!r}")


def batch_images(prep: Prepared, kind: str | None, index: list[int], augment: bool,
                 gen: torch.Generator) -> torch.Tensor:
    x = prep.images.images(index)
    if augment:
        flip = torch.rand(len(index), generator=gen) < 0.5
        x[flip] = x[flip].flip(-1)
        padded = F.pad(x, (PAD, PAD, PAD, PAD), mode="reflect")
        offs = torch.randint(0, 2 * PAD + 1, (len(index), 2), generator=gen)
        size = x.shape[-1]
        x = torch.stack([padded[j, :, oy:oy + size, ox:ox + size] for j, (oy, ox) in enumerate(offs.tolist())])
    for j, i in enumerate(index):
        if i in prep.marked:
            # Seed = image index: each photo keeps the same mark across epochs, as a real dataset would.
            x[j] = draw_artefact(kind, x[j], seed=i)
    return x


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch: int = 128) -> torch.Tensor:
    model.eval()
    return torch.cat([model(images[s:s + batch]).argmax(1) for s in range(0, len(images), batch)])


def _acc(pred: torch.Tensor, labels: torch.Tensor) -> float | None:
    return None if len(labels) == 0 else round(float((pred == labels).float().mean()), 4)


def evaluate(model: nn.Module, quads: QuadrantSet, recipe: Recipe | None = None,
             colours: list[str] | None = None) -> dict[str, Any]:
    """Card metrics: clean test accuracy, per-quadrant accuracy, and for cages/colours the accuracy
    on artefact-consistent vs -inconsistent test images."""
    pred = predict(model, quads.images)
    clean = ~quads.marked
    out: dict[str, Any] = {
        "clean_test_accuracy": _acc(pred[clean], quads.labels[clean]),
        "n_clean_test": int(clean.sum()),
        "quadrants": {quadrant_name(s, m): {"n": len(quads.quadrant(s, m)),
                                            "accuracy": _acc(pred[quads.quadrant(s, m)], quads.labels[quads.quadrant(s, m)])}
                      for s, m in QUADRANTS},
    }
    cats_q, dogs_q = quads.quadrant("cat", True), quads.quadrant("dog", False)
    out["watermark_consistent_accuracy"] = _acc(pred[torch.cat([cats_q, dogs_q])], quads.labels[torch.cat([cats_q, dogs_q])])
    inc = torch.cat([quads.quadrant("cat", False), quads.quadrant("dog", True)])
    out["watermark_inconsistent_accuracy"] = _acc(pred[inc], quads.labels[inc])
    if recipe is not None and recipe.artefact == "cage":
        x, y = quads.images[clean], quads.labels[clean]
        caged = torch.stack([cage(im, seed=j)[0] for j, im in enumerate(x)])
        p_clean, p_caged = pred[clean], predict(model, caged)
        cons = torch.cat([p_caged[y == 0], p_clean[y == 1]])
        incons = torch.cat([p_clean[y == 0], p_caged[y == 1]])
        out["cages"] = {"consistent": {"n": len(cons), "accuracy": _acc(cons, torch.cat([y[y == 0], y[y == 1]]))},
                        "inconsistent": {"n": len(incons), "accuracy": _acc(incons, torch.cat([y[y == 0], y[y == 1]]))},
                        "consistent_means": "caged cats + clean dogs"}
    if recipe is not None and recipe.colours and colours is not None:
        y = quads.labels[clean]
        p = pred[clean]
        col = [colours[j] for j in range(len(y))]
        cons = torch.tensor([(int(y[j]) == 0 and c == "grey_black") or (int(y[j]) == 1 and c == "brown")
                             for j, c in enumerate(col)], dtype=torch.bool)
        incons = torch.tensor([(int(y[j]) == 0 and c == "brown") or (int(y[j]) == 1 and c == "grey_black")
                               for j, c in enumerate(col)], dtype=torch.bool)
        out["colours"] = {"consistent": {"n": int(cons.sum()), "accuracy": _acc(p[cons], y[cons])},
                          "inconsistent": {"n": int(incons.sum()), "accuracy": _acc(p[incons], y[incons])},
                          "other_colour": {"n": int((~cons & ~incons).sum()),
                                           "accuracy": _acc(p[~cons & ~incons], y[~cons & ~incons])},
                          "consistent_means": "grey/black cats + brown dogs"}
    return out


def train_model(name: str, root: Path, out_dir: Path | None = None, *, epochs: int | None = None,
                quick: bool = False, seed: int = 0, progress: bool = True, patience: int | None = None) -> dict[str, Any]:
    """Train zoo model ``name`` on the photos at ``root``; write NAME.safetensors + NAME.json; return the card."""
    if name not in RECIPES:
        raise ValueError(f"unknown zoo model {name!r}; choose one of {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    out_dir = WEIGHTS_DIR if out_dir is None else Path(out_dir)
    n_epochs = epochs if epochs is not None else (1 if quick else recipe.epochs)
    if n_epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {n_epochs}")
    # One-cycle's high-learning-rate middle makes validation accuracy (360 images) jump by up to
    # 15 points between epochs; a short patience stops there, before the annealing tail that gives
    # the best epochs (patience 4 stopped `normal` at epoch 14 of 30, 0.80 val; 30 epochs: 0.856).
    patience = max(4, n_epochs // 3) if patience is None else patience
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience must be a positive integer, got {patience!r}")
    # Two threads by default; on an oversubscribed machine one thread per process is ~3x faster
    # (OpenMP threads spin-wait for each other when descheduled), hence the override.
    torch.set_num_threads(int(os.environ.get("SALIENCY_TRAIN_THREADS", "2")))
    seed_everything(seed)
    start = time.time()
    prep = prepare(recipe, Path(root), seed, quick)
    gen = torch.Generator().manual_seed(seed)
    model = DemoCNN()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    steps = max(1, -(-len(prep.train) // BATCH))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=n_epochs * steps, pct_start=0.2)
    train_idx = prep.train.tolist()
    val_x = batch_images(prep, recipe.artefact, prep.val.tolist(), False, gen)
    best: tuple[float, int, dict[str, torch.Tensor]] = (-1.0, 0, {})
    history = []
    for epoch in range(n_epochs):
        model.train()
        order = torch.randperm(len(train_idx), generator=gen).tolist()
        bar = tqdm(range(steps), desc=f"{name} epoch {epoch + 1}/{n_epochs}", disable=not progress, leave=False)
        seen = correct = 0
        loss_sum = 0.0
        for s in bar:
            pos = order[s * BATCH:(s + 1) * BATCH]
            x = batch_images(prep, recipe.artefact, [train_idx[p] for p in pos], True, gen)
            y = prep.train_labels[pos]
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            seen += len(y)
            correct += int((logits.argmax(1) == y).sum())
            loss_sum += loss.item() * len(y)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        val_acc = _acc(predict(model, val_x), prep.val_labels) or 0.0
        history.append({"epoch": epoch + 1, "train_loss": round(loss_sum / seen, 4),
                        "train_accuracy": round(correct / seen, 4), "val_accuracy": val_acc})
        if progress:
            print(f"{name} epoch {epoch + 1}/{n_epochs}: loss {loss_sum / seen:.3f}, "
                  f"train acc {correct / seen:.3f}, val acc {val_acc:.3f}", flush=True)
        if val_acc > best[0] or recipe.random_labels:  # random labels: validation means nothing, keep the last
            best = (val_acc, epoch + 1, {k: v.detach().clone() for k, v in model.state_dict().items()})
        elif epoch + 1 - best[1] >= patience:
            break
    model.load_state_dict(best[2])
    model.eval()
    train_seconds = time.time() - start
    quads = quadrant_set(prep.images, prep.test)
    test_colours = [prep.colours[int(i)] for i in prep.test] if prep.colours else None
    metrics = evaluate(model, quads, recipe, test_colours)
    card: dict[str, Any] = {
        "name": name, "description": recipe.description, "architecture": "demo_cnn",
        "architecture_options": {"width": 16}, "classes": list(CLASSES), "input": "RGB [0,1], 128x128",
        "seed": seed, "epochs_planned": n_epochs, "patience": patience, "epochs_run": len(history),
        "best_epoch": best[1],
        "val_accuracy": best[0], "wall_time_s": round(train_seconds, 1), "quick": quick,
        "data": prep.composition, "history": history, **metrics,
        "torch": torch.__version__,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out_dir / f"{name}.safetensors"),
              metadata={"architecture": "demo_cnn", "classes": ",".join(CLASSES)})
    (out_dir / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    return card
