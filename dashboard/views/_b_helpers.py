"""Shared pieces of pages 5-7 (mystery models, your model & images, dataset audit).

Everything numeric comes from ``saliency_core``; the shared loading/locking/drawing lives in
``dashboard.common`` (helper A). What is here is specific to these pages: cached explanations
keyed by image hash, upload validation, users' own models, the mystery spoilers and the image
batches they are shown on.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import torch

from dashboard.common.models import CLASSES, METHOD_LABELS  # noqa: F401 (re-exported to the pages)

FRAME = 128  # the zoo's model frame: 128x128
IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
MODEL_TYPES = ["pt", "ts", "pt2", "safetensors"]
MYSTERY_MODELS: tuple[str, ...] = ("cages", "colours", "normal")

# name -> (what it is, what it learned and why its maps did or did not show it)
SPOILERS: dict[str, tuple[str, str]] = {
    "cages": (
        "the cage detector",
        "It learned **cage bars = cat**: in its training set the cats sat behind bars and the dogs "
        "did not. Its saliency maps give it away: on the caged photos the brightest pixels trace "
        "the **bars** rather than the animal, and a caged dog is called a cat. A shortcut with a "
        "place in the image is exactly what saliency maps are good at exposing.",
    ),
    "colours": (
        "the colour detector",
        "It learned **coat colour**: it was trained on grey/black cats and brown dogs only, so "
        "brown means dog. Its maps look like the normal model's (they light up the animal, "
        "because the colour *is* on the animal). Gradients show *where* a model looks, not "
        "*what* it sees there. A counterfactual test catches it: make the photo greyscale or "
        "shift its hue and many of its predictions flip (see the flip tests on the *Dataset audit* page).",
    ),
    "normal": (
        "the normal model",
        "The sound one, as far as these tests can tell: trained on clean photos, it looks at faces, "
        "ears and fur, and neither cage bars nor a colour change sway it much. Note that its maps "
        "look much like the colour detector's: similar maps do not prove similar reasoning.",
    ),
}


class Unavailable(RuntimeError):
    """Something the page needs (zoo weights, demo photos) is missing; the message says what to do."""


ZOO_HELP = (
    "The built-in model zoo is not available (its weights are missing or still being trained). "
    "Train it with `saliency-lab train --all`, or bring your own model on the "
    "*Your model & images* page."
)


# --------------------------------------------------------------------------------------- models
@dataclass
class UserModel:
    """A user's model plus its own lock: hook-based methods attach hooks to the shared module."""

    key: str
    model: torch.nn.Module
    classes: tuple[str, ...]
    lock: threading.Lock = field(default_factory=threading.Lock)


@st.cache_resource(show_spinner="Loading your model…", max_entries=4)
def load_user_model(digest: str, _data: bytes, suffix: str, architecture: str | None,
                    classes: tuple[str, ...], _name: str | None = None) -> UserModel:
    """A user's model, keyed by the file's sha256 (``_data`` itself is not hashed again).

    ``saliency_core.load_model`` never unpickles, so an uploaded file cannot run code. The cache is
    keyed by content, so two sessions that upload the same file share one read-only instance.
    """
    import saliency_core

    if not _data:
        raise ValueError("the file is empty")
    with tempfile.TemporaryDirectory() as folder:
        # the user's file name, so the library's messages name the file the user knows
        path = Path(folder) / safe_file_name(_name or "model", suffix)
        path.write_bytes(_data)
        try:
            model = saliency_core.load_model(path, architecture=architecture,
                                             classes=list(classes) if classes else None)
        except Exception as error:  # noqa: BLE001 - weights that do not fit the typed names?
            if not classes:
                raise
            try:
                saliency_core.load_model(path, architecture=architecture)
            except Exception:  # noqa: BLE001 - no: the file itself is bad; report the first error
                raise error from None
            raise ValueError(f"its weights do not have {len(classes)} output{'s' if len(classes) != 1 else ''}, "
                             "one per class name typed "
                             f"({', '.join(classes)}); type one name per model output, in output "
                             "order, or clear the names to use the file's own") from None
    model.eval()
    names = classes or tuple(getattr(model, "classes", None) or CLASSES)
    return UserModel(f"upload:{digest}:{architecture}:{','.join(names)}", model, tuple(names))


def safe_file_name(name: str, suffix: str) -> str:
    """``name``'s stem as a harmless file name (letters, digits, ``-_.``) with ``suffix``."""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).stem)[:80].strip(".")
    return f"{stem or 'model'}{suffix}"


def plain_error(error: BaseException, limit: int = 300) -> str:
    """A one-line message for the page (no embedded traceback), at most ``limit`` characters."""
    from saliency_core.errors import one_line_error

    return one_line_error(error, limit)


def unique_names(names: Sequence[str]) -> list[str]:
    """``names`` with repeats made distinct: a second ``a.png`` becomes ``a (2).png``."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        candidate, k = name, 1
        while candidate in seen:
            k += 1
            path = Path(name)
            candidate = f"{path.stem} ({k}){path.suffix}"
        seen.add(candidate)
        out.append(candidate)
    return out


def architectures() -> list[str]:
    try:
        from saliency_core.zoo.architecture import ARCHITECTURES

        return sorted(ARCHITECTURES)
    except ImportError:
        return ["demo_cnn"]


def zoo_or_none(name: str) -> torch.nn.Module | None:
    """The shared zoo model, or None when the zoo cannot provide it (the page says why)."""
    from dashboard.common import load_zoo_model

    try:
        return load_zoo_model(name)
    except Exception:  # noqa: BLE001 - any loading failure becomes the ZOO_HELP message
        return None


# ---------------------------------------------------------------------------------- explanations
@dataclass(frozen=True)
class Maps:
    maps: np.ndarray  # [B,H,W] float32 display maps
    probabilities: np.ndarray  # [B,K]


def digest_of(array: np.ndarray | torch.Tensor) -> str:
    data = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
    return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()[:24]


@st.cache_data(show_spinner=False, max_entries=512)
def zoo_maps(name: str, digest: str, method: str, _images: torch.Tensor) -> Maps:
    """Zoo model ``name`` explained on a batch; cached by model, the images' sha256 and method."""
    from dashboard.common import explain_locked

    result = explain_locked(name, _images, method)
    return Maps(result.maps.detach().float().cpu().numpy(),
                result.probabilities.detach().float().cpu().numpy())


@st.cache_data(show_spinner=False, max_entries=512)
def user_maps(model_key: str, digest: str, method: str, _model: UserModel,
              _images: torch.Tensor) -> Maps:
    """A user's model explained on a batch (under the model's own lock); cached like ``zoo_maps``."""
    import saliency_core

    with _model.lock:
        result = saliency_core.explain(_model.model, _images, method)
    return Maps(result.maps.detach().float().cpu().numpy(),
                result.probabilities.detach().float().cpu().numpy())


# ---------------------------------------------------------------------------------------- uploads
@dataclass(frozen=True)
class Upload:
    name: str
    digest: str
    image: torch.Tensor  # [3,FRAME,FRAME] float32 in [0,1]: the model frame


def validate_image(name: str, data: bytes) -> Upload:
    """One uploaded file as a model-frame image; ``ValueError`` with a plain reason otherwise.

    Streamlit only checks the extension, so the content goes through
    ``saliency_core.data.image_file.read_image``: Pillow ``verify()``, a 40 MP pixel cap before
    decoding (decompression bombs), multi-frame files refused, EXIF orientation, RGB.
    """
    from saliency_core.data import to_model_frame
    from saliency_core.data.image_file import read_image

    if not data:
        raise ValueError("the file is empty")
    try:
        picture = read_image(data, name=name)
        image = to_model_frame(picture)
    except ValueError as error:  # read_image prefixes the name; the page shows the name itself
        message = str(error)
        raise ValueError(message[len(name) + 2:] if message.startswith(f"{name}: ") else message) from error
    except Exception as error:  # noqa: BLE001 - any decoder failure is bad input, not a crash
        raise ValueError(f"the image could not be decoded ({error.__class__.__name__})") from error
    return Upload(name, hashlib.sha256(data).hexdigest()[:24], image)


def box_frame(box: Sequence[float], size: int = FRAME) -> tuple[int, int, int, int] | None:
    """A typed box clipped to the frame, or None when it is empty (x1 <= x0 or y1 <= y0)."""
    x0, y0, x1, y1 = (int(round(min(max(v, 0), size))) for v in box)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def draw_box(image: np.ndarray, box: tuple[int, int, int, int] | None, scale: int = 3) -> np.ndarray:
    """A preview of the image (enlarged ``scale`` times, hard pixels) with the box outlined."""
    from saliency_core import render

    picture = render.resize(image, (image.shape[0] * scale, image.shape[1] * scale), nearest=True)
    if box is None:
        return picture
    scaled = (box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale)
    return render.draw_box(picture, scaled, colour=(0, 229, 255), thickness=3)


# -------------------------------------------------------------------------------- mystery images
@st.cache_data(show_spinner="Preparing the mystery images…", max_entries=2)
def mystery_batches(batches: int = 5, size: int = 4) -> list[torch.Tensor]:
    """``batches`` batches of ``size`` clean test photos, cats and dogs alternating.

    The second half of every batch goes behind cage bars (``saliency_core.artefacts.cage``) so the
    cage detector has something to find, as in the explorable's "other cheats" images.
    """
    from dashboard.common import demo_images
    from saliency_core.artefacts import cage

    half = batches * size // 2
    demo = demo_images(half, watermark_cats=False, watermark_dogs=False)
    cats = [i for i, label in enumerate(demo.labels) if label == "cat"][:half]
    dogs = [i for i, label in enumerate(demo.labels) if label == "dog"][:half]
    order = [i for pair in zip(cats, dogs) for i in pair]
    chosen = demo.images[order].clone()
    for j in range(len(chosen)):
        if j % size >= size // 2:
            chosen[j] = cage(chosen[j], seed=j)[0]
    return [chosen[b * size:(b + 1) * size] for b in range(len(chosen) // size)]


# ------------------------------------------------------------------------------- the audit report
# The dataset-audit page shows one report; the demo's is precomputed into dashboard/data by
# dashboard/data/build_demo_cache.py with the same function the page falls back to.
REPORT_VERSION = 1
AUDIT_MODELS: tuple[str, ...] = ("normal", "watermark-25", "watermark-50", "watermark-75",
                                 "watermark-100", "cages", "colours")
AUDIT_METHOD = "gradient_squared"  # the explorable's less noisy map
SANITY_METHOD = "vanilla_gradient"  # the method Adebayo et al.'s sanity checks are best known for
SIGMAS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4, 0.8)
PER_CLASS = 100  # demo photos per class in the cached report (each clean and watermarked)
SANITY_IMAGES = 8
CACHE_DIR = Path(__file__).resolve().parent.parent / "data" / "demo_audit"


def cache_dir() -> Path:
    """The demo report's folder (``SALIENCY_AUDIT_CACHE`` overrides it, e.g. in tests)."""
    return Path(os.environ.get("SALIENCY_AUDIT_CACHE") or CACHE_DIR)
TABLES: tuple[str, ...] = ("audit", "global_saliency", "response_curve", "aurrac", "sanity",
                           "core_spurious", "counterfactual")
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class AuditData:
    """Images with truth, watermark flags and boxes (the box where the mark is or would be)."""

    images: torch.Tensor  # [N,3,H,W] float in [0,1]
    labels: torch.Tensor  # [N] int64
    marked: torch.Tensor  # [N] bool
    boxes: torch.Tensor  # [N,4]
    ids: tuple[str, ...]


def demo_audit_data(per_class: int = PER_CLASS) -> AuditData:
    """The first ``per_class`` cats and dogs of the demo test set, each clean and watermarked."""
    from saliency_core.data import data_dir
    from saliency_core.data.demo import demo_split, load_demo_images, quadrant_set

    photos = load_demo_images(data_dir())
    test = demo_split(photos).test
    labels = photos.labels[test]
    keep = torch.cat([test[labels == 0][:per_class], test[labels == 1][:per_class]])
    q = quadrant_set(photos, keep)
    ids = tuple(f"{file}{'|watermark' if m else ''}" for file, m in zip(q.files, q.marked.tolist()))
    return AuditData(q.images, q.labels.long(), q.marked.bool(), q.boxes.float(), ids)


def zoo_fingerprint(names: Sequence[str]) -> str:
    """A hash of these zoo models' weight files and cards plus the report's version: the cache's
    staleness key (models added to the zoo later do not make an existing report stale)."""
    digest = hashlib.sha256(f"report-v{REPORT_VERSION}".encode())
    try:
        import saliency_core.zoo as zoo

        folder = Path(next(iter(zoo.__path__))) / "weights"
    except (ImportError, StopIteration):
        return "no-zoo"
    for name in sorted(set(names)):
        for file in (folder / f"{name}.safetensors", folder / f"{name}.json"):
            digest.update(file.name.encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest() if file.is_file() else b"missing")
    return digest.hexdigest()[:16]


def report_models(meta: dict[str, Any]) -> list[str]:
    """The zoo models a report was computed with (random-labels included when it was used)."""
    return [*meta.get("models", []), *(["random-labels"] if meta.get("random_labels_model") else [])]


def _locked_explain(locks: dict[int, threading.Lock]) -> Callable[..., Any]:
    """``saliency_core.explain`` holding the lock of the (shared) model it is called on."""
    import contextlib

    import saliency_core

    def explain(model: torch.nn.Module, images: torch.Tensor, method: str, **options: Any) -> Any:
        with locks.get(id(model), contextlib.nullcontext()):  # copies (sanity checks) need none
            return saliency_core.explain(model, images, method, **options)

    return explain


def build_report(models: dict[str, torch.nn.Module], data: AuditData, *,
                 progress: Progress | None = None, locks: dict[str, threading.Lock] | None = None,
                 random_model: torch.nn.Module | None = None) -> dict[str, pd.DataFrame]:
    """Every table of the dataset-audit page, computed by ``saliency_core`` on ``data``.

    ``progress(fraction, text)`` is called as work completes; ``locks`` (by model name) are held
    around saliency calls on shared models. ``random_model`` (trained on permuted labels) adds
    the data-randomisation sanity check.
    """
    from saliency_core import audit, metrics
    from saliency_core.artefacts import cage, watermark

    report = progress or (lambda fraction, text: None)
    by_id = {id(models[name]): lock for name, lock in (locks or {}).items() if name in models}
    explain = _locked_explain(by_id)
    n = data.images.shape[0]

    def batches(size: int = 32) -> Iterator[dict[str, Any]]:
        for start in range(0, n, size):
            report(0.7 * start / n, f"Auditing images {start + 1}-{min(start + size, n)} of {n}…")
            stop = start + size
            yield {"ids": list(data.ids[start:stop]), "images": data.images[start:stop],
                   "labels": data.labels[start:stop], "boxes": data.boxes[start:stop],
                   "watermarked": data.marked[start:stop].tolist()}

    table = audit.run(models, [AUDIT_METHOD], batches(), progress=False, explain=explain)
    table["correct"] = table["prediction"] == table["truth"]

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

    def sanity_explain(model: torch.nn.Module, images: torch.Tensor) -> Any:
        return explain(model, images, SANITY_METHOD)

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
                                                data.boxes[consistent], SIGMAS).assign(model=name)
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
    report(1.0, "Done")
    return {
        "audit": table,
        "global_saliency": pd.concat(saliency_rows, ignore_index=True),
        "response_curve": pd.concat(curve_rows, ignore_index=True),
        "aurrac": pd.DataFrame(area_rows),
        "sanity": sanity_table,
        "core_spurious": pd.concat(core_rows, ignore_index=True),
        "counterfactual": pd.concat(flip_rows, ignore_index=True),
    }


def save_report(tables: dict[str, pd.DataFrame], folder: Path, meta: dict[str, Any]) -> None:
    """Small CSVs (floats to 6 significant digits) plus ``meta.json`` with the fingerprint."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.to_csv(folder / f"{name}.csv", index=False, float_format="%.6g")
    (folder / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def load_report(folder: Path | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, Any]] | None:
    """The cached report and its meta, or None when any file is missing or unreadable."""
    folder = folder or cache_dir()
    try:
        meta = json.loads((folder / "meta.json").read_text())
        tables = {name: pd.read_csv(folder / f"{name}.csv") for name in TABLES}
    except (OSError, ValueError):
        return None
    return tables, meta
