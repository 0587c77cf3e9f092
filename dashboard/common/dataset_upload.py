"""A dataset the user brings to the Dataset-audit page, and its audit with any model of the session.

The zip is unpacked by ``saliency_core.data.archive`` (layout, limits and every refusal there)
into a temporary folder of this session only, kept in ``st.session_state`` and removed when another
zip replaces it or the session ends. Photos and masks are decoded by
``saliency_core.data.mask_folders`` (``read_image`` only), once per model input size. The audit is
``saliency_core.audit.run`` per model; its table stays in ``st.session_state`` too, never in a
cache shared between sessions (an uploaded model's or dataset's results are nobody else's).
"""

from __future__ import annotations

import hashlib
import tempfile
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
import torch
from torch import nn

from dashboard.common.locks import explain_locked, lock_of
from dashboard.common.models import CLASSES
from dashboard.common.session_models import ModelChoice, audit_model, preprocess_of, upload_of
from saliency_core import audit
from saliency_core.data.archive import MASKS, ArchiveError, Extracted, Limits, extract_dataset, megabytes
from saliency_core.data.frame import FRAME
from saliency_core.data.loaders import ImageSet
from saliency_core.data.preprocess import Preprocess
from saliency_core.metrics import greyscale, hue_shift
from saliency_core.zoo import model_process

LIMITS = Limits()
UPLOAD_MB = LIMITS.zip_bytes // (1024 * 1024)  # the uploader's own cap, the same number
LAYOUT = (f"One folder per class with the images directly inside (`cat/x.jpg`, `dog/y.png`); optionally a "
          f"`{MASKS}/` folder beside them with one mask per image under the same class and name stem "
          f"(`{MASKS}/cat/x.png` for `cat/x.jpg`): an image of the photo's size whose white pixels mark the "
          "region to measure (the object, or a suspect artefact). Everything may sit in one top folder. "
          "Files that are no image are skipped.")
LIMITS_TEXT = (f"Limits: a zip of at most {megabytes(LIMITS.zip_bytes)} that unpacks to at most "
               f"{megabytes(LIMITS.total_bytes)}, with at most {LIMITS.images} images (and a mask each).")
TRANSFORMS = {"greyscale": greyscale, "hue shift 180°": lambda images: hue_shift(images, 180.0)}
_STATE = "_audit_zip_dataset"  # session state: this session's SessionDataset, or the _Refused zip


@dataclass(eq=False)
class SessionDataset:
    """An unpacked zip in this session's temporary folder (removed with this object)."""

    digest: str
    name: str
    extracted: Extracted
    folder: tempfile.TemporaryDirectory[str]

    @property
    def root(self) -> Path:
        return self.extracted.root

    def close(self) -> None:
        self.folder.cleanup()


@dataclass(frozen=True)
class _Refused:
    digest: str
    message: str


def zip_dataset(name: str, data: bytes) -> SessionDataset:
    """The session's unpacked copy of the zip ``data`` (unpacked once per zip); ArchiveError (one
    line) when it is refused (remembered, so reruns do not unpack it again)."""
    digest = hashlib.sha256(data).hexdigest()
    held = st.session_state.get(_STATE)
    if held is not None and held.digest == digest:
        if isinstance(held, _Refused):
            raise ArchiveError(held.message)
        return held
    forget_zip()
    folder = tempfile.TemporaryDirectory(prefix="saliency-audit-")
    try:
        extracted = extract_dataset(data, Path(folder.name) / "set", LIMITS)
    except ArchiveError as error:
        folder.cleanup()
        st.session_state[_STATE] = _Refused(digest, str(error))
        raise
    dataset = SessionDataset(digest, name, extracted, folder)
    weakref.finalize(dataset, folder.cleanup)  # the session's state is dropped: so is the folder
    st.session_state[_STATE] = dataset
    return dataset


def forget_zip() -> None:
    """Remove this session's unpacked zip (the user removed it, or uploads another)."""
    held = st.session_state.pop(_STATE, None)
    if isinstance(held, SessionDataset):
        held.close()


# ------------------------------------------------------------------------------------ the audit
class _Locked(nn.Module):
    """A shared zoo model whose forward passes (the counterfactual flips) hold its lock; its
    saliency goes through :func:`dashboard.common.locks.explain_locked` on the model itself."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.inner = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with lock_of(self.inner):
            return self.inner(images)


def _explain_counting(count: Callable[[int], None]) -> Callable[..., Any]:
    """An ``explain`` for ``audit.run`` that runs each kind of model where it lives and counts
    the images done (the page's progress bar)."""

    def explain(model: nn.Module, images: torch.Tensor, method: str, **options: Any) -> Any:
        if isinstance(model, _Locked):
            result = explain_locked(model.inner, images, method, **options)
        else:  # an uploaded model: in its own process
            result = model_process.explain(model, images, method, **options)
        count(len(images))
        return result

    return explain


def model_classes(choice: ModelChoice) -> tuple[str, ...]:
    """The class name of each output of ``choice``."""
    return tuple(CLASSES) if choice.zoo else tuple(upload_of(choice).classes)


def label_map(dataset_classes: Sequence[str], choice: ModelChoice) -> list[int]:
    """The model's output index of each dataset class (names compared case-blind); a ValueError
    naming the first class folder the model does not know."""
    known = {name.casefold(): k for k, name in enumerate(model_classes(choice))}
    missing = [name for name in dataset_classes if name.casefold() not in known]
    if missing:
        raise ValueError(f"class folder {missing[0]!r} is not a class of model {choice.title!r} (its classes: "
                         f"{', '.join(model_classes(choice))}): name the folders after the model's classes")
    return [known[name.casefold()] for name in dataset_classes]


def _items(images: ImageSet, labels: list[int], chunk: int = 32) -> Iterator[dict[str, Any]]:
    """The audit's dict items: photos, labels in the model's indices, masks when there are."""
    mapped = torch.tensor(labels, dtype=torch.long)[images.labels]
    for start in range(0, len(images), chunk):
        stop = min(start + chunk, len(images))
        item: dict[str, Any] = {"ids": list(images.files[start:stop]),
                                "images": images.images(list(range(start, stop))), "labels": mapped[start:stop]}
        if images.masks is not None:
            item["masks"] = images.masks[start:stop]
        yield item


def frame_key(preprocess: Preprocess) -> tuple[int, str]:
    """Which decoded copy of the photos a model needs: its input size and resize."""
    return preprocess.size, preprocess.resize


def audit_dataset(image_sets: dict[tuple[int, str], ImageSet], choices: Sequence[ModelChoice], method: str,
                  box: Sequence[float] | None, progress: Callable[[int, int, str], None]) -> pd.DataFrame:
    """Every chosen model on its copy of the photos (``image_sets`` by :func:`frame_key`): one
    row per image and model, with class names for truth and prediction, model titles, and the
    flip columns of :data:`TRANSFORMS`. ``box`` (x0,y0,x1,y1 in the 128-pixel frame, scaled to
    each model's input) replaces the masks. ``progress(done, total, model title)`` per batch."""
    first = next(iter(image_sets.values()))
    maps = {choice.key: label_map(first.classes, choice) for choice in choices}  # every model checked first
    total = sum(len(image_sets[frame_key(preprocess_of(c))]) for c in choices)
    done = 0
    tables = []
    for choice in choices:
        preprocess = preprocess_of(choice)
        images = image_sets[frame_key(preprocess)]
        model = audit_model(choice)

        def count(n: int, title: str = choice.title) -> None:
            nonlocal done
            done += n
            progress(done, total, title)

        region = None if box is None else [float(v) * preprocess.size / FRAME for v in box]
        table = audit.run({choice.key: _Locked(model) if choice.zoo else model}, [method],
                          _items(images, maps[choice.key]), regions=region, progress=False,
                          transforms=TRANSFORMS, explain=_explain_counting(count),
                          preprocess=None if choice.zoo else preprocess)
        names = model_classes(choice)
        table["truth"] = [images.classes[i] for i in _dataset_labels(images, table)]
        table["prediction"] = [names[int(k)] for k in table["prediction"]]
        table.insert(1, "model_title", choice.title)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def _dataset_labels(images: ImageSet, table: pd.DataFrame) -> list[int]:
    """The dataset class index of each row (by its image id)."""
    index = {name: int(label) for name, label in zip(images.files, images.labels.tolist())}
    return [index[i] for i in table["id"]]
