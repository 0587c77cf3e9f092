"""Results kept on disk between server starts, in ``saliency_core.data.cache_dir()/dashboard``.

Tables as Parquet and arrays as ``.npz`` (never pickles), written atomically; a key is hashed into
the file name, so a new key (other data, retrained weights: put ``model_fingerprint`` in it) never
reads stale files. The built-in photos' folder is hashed by name, not by where it is installed, so
a key is the same in every checkout.

Some kinds are also *shipped*: ``dashboard/data/page_cache/builtin/results/`` holds the files the
story pages' default views of the built-in photos need (:data:`SHIPPED_KINDS`; recorded by
``dashboard/data/build_demo_cache.py --what pages``). They are read first, so a fresh clone or a
hosted demo shows those views without computing; a retrained model or changed photos change the
key, and the page computes as before.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from saliency_core.data import BUILTIN_DIR, cache_dir

T = TypeVar("T")
PAGE_CACHE_DIR = Path(__file__).resolve().parent.parent / "data" / "page_cache"
SHIPPED_RESULTS = PAGE_CACHE_DIR / "builtin" / "results"
# The kinds recorded into SHIPPED_RESULTS: numbers and 128-px maps, and the Quadrants page's table
# of its default model (with its thumbnails: 3.6 MB, the one picture-heavy kind; computing it took
# 2.6 s of a fresh server's first Quadrants visit).
SHIPPED_KINDS = frozenset({"occlusion-sweep", "occlusion-fine", "occlusion-miss", "sanity", "spurious", "flips",
                           "quadrants"})
BUILDS: Counter[str] = Counter()  # kind -> results computed by this process (the tests read it)


def cache_folder() -> Path:
    return cache_dir() / "dashboard"


def _portable(value: Any) -> Any:
    """``value`` with the built-in photos' folder replaced by a name (recursively in tuples)."""
    if isinstance(value, (str, os.PathLike)) and str(value) in _builtin_paths():
        return "<built-in photos>"
    if isinstance(value, tuple):
        return tuple(_portable(v) for v in value)
    return value


@functools.lru_cache(maxsize=1)
def _builtin_paths() -> frozenset[str]:
    return frozenset({str(BUILTIN_DIR), str(BUILTIN_DIR.resolve())})


def file_stem(kind: str, key: tuple) -> str:
    """``<kind>-<hash of the key>``: the name of a result's file, the same in every checkout."""
    return f"{kind}-{hashlib.sha256(repr((kind, _portable(key))).encode()).hexdigest()[:24]}"


def _cached(kind: str, key: tuple, build: Callable[[], T], suffix: str,
            read: Callable[[Path], T], write: Callable[[T, Path], None]) -> T:
    name = file_stem(kind, key) + suffix
    places = ([SHIPPED_RESULTS / name] if kind in SHIPPED_KINDS else []) + [cache_folder() / name]
    for path in places:
        if path.is_file():
            try:
                return read(path)
            except (OSError, ValueError, KeyError):
                pass  # unreadable: try the next place, else rebuild
    BUILDS[kind] += 1
    value = build()
    path = places[-1]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        write(value, tmp)
        os.replace(tmp, path)
    except (OSError, ValueError):
        pass  # a read-only or full disk: the result is still returned
    return value


def cached_frame(kind: str, key: tuple, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """``build()`` once per ``(kind, key)``; later calls (and later servers) read it from disk."""
    return _cached(kind, key, build, ".parquet", pd.read_parquet,
                   lambda frame, path: frame.to_parquet(path, index=False, compression="zstd"))


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def _write_arrays(arrays: dict[str, np.ndarray], path: Path) -> None:
    with path.open("wb") as f:  # a file object: np.savez would append ".npz" to the temporary name
        np.savez_compressed(f, **arrays)


def cached_arrays(kind: str, key: tuple, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """:func:`cached_frame` for named numpy arrays (``.npz``, read without pickles)."""
    return _cached(kind, key, build, ".npz", _read_arrays, _write_arrays)


# ---------------------------------------------------------------- shipped with the app (built-in set)
# Numbers the pages would otherwise compute on their first visit, precomputed for the built-in
# photos by dashboard/data/build_demo_cache.py and committed in dashboard/data/page_cache/builtin/:
# ``predictions.csv`` (model, id, p_cat, p_dog: every zoo model on every image of the pages' demo
# sets, clean and watermarked ids). ``meta.json``'s fingerprint hashes the zoo weights and cards,
# PAGE_CACHE_VERSION and the set's MANIFEST.csv (file contents only, as the audit report's: a fresh
# clone computes the same one); a table whose fingerprint differs is ignored and the page computes.
PAGE_CACHE_VERSION = 1
PAGE_CACHE_MODELS: tuple[str, ...] = ("normal", "watermark-25", "watermark-50", "watermark-75",
                                      "watermark-100", "cages", "colours")
PAGE_CACHE_PER_CLASS = 50  # the first 50 cats and 50 dogs, clean and watermarked (the Quadrants set)


def page_cache_fingerprint(root: str | os.PathLike[str]) -> str:
    """The shipped tables' staleness key for the photos at ``root`` (see above)."""
    from dashboard.common.audit_cache import set_key, zoo_fingerprint

    return zoo_fingerprint(PAGE_CACHE_MODELS, f"page-cache:{set_key(root)}", version=PAGE_CACHE_VERSION)


@functools.lru_cache(maxsize=8)
def _shipped(name: str, root: str) -> pd.DataFrame | None:
    from dashboard.common.audit_cache import BUILTIN_SET, photo_set

    if photo_set(root) != BUILTIN_SET:
        return None
    folder = PAGE_CACHE_DIR / BUILTIN_SET
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("fingerprint") != page_cache_fingerprint(root):
            return None  # stale (retrained zoo, changed photos): the page computes
        return pd.read_csv(folder / f"{name}.csv")
    except (OSError, ValueError):
        return None


def shipped_probabilities(name: str, root: str | os.PathLike[str], ids: tuple[str, ...]) -> np.ndarray | None:
    """Probabilities ``[N,2]`` (cat, dog) of zoo model ``name`` on the images ``ids`` of the photos
    at ``root``, from the shipped table; None when it is stale, missing or lacks one of them."""
    table = _shipped("predictions", str(root))
    if table is None:
        return None
    rows = table[table["model"] == name].set_index("id")
    if not set(ids) <= set(rows.index):
        return None
    return rows.loc[list(ids), ["p_cat", "p_dog"]].to_numpy(dtype=np.float32)
