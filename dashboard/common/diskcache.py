"""Results kept on disk between server starts, in ``saliency_core.data.cache_dir()/dashboard``.

Tables as Parquet (never pickles), written atomically; a key is hashed into the file name, so a
new key (other data, retrained weights: put ``model_fingerprint`` in it) never reads stale files.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from saliency_core.data import cache_dir


def cache_folder() -> Path:
    return cache_dir() / "dashboard"


def cached_frame(kind: str, key: tuple, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """``build()`` once per ``(kind, key)``; later calls (and later servers) read it from disk."""
    digest = hashlib.sha256(repr((kind, key)).encode()).hexdigest()[:24]
    path = cache_folder() / f"{kind}-{digest}.parquet"
    if path.is_file():
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError):
            pass  # unreadable: rebuild
    frame = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except (OSError, ValueError):
        pass
    return frame


# ---------------------------------------------------------------- shipped with the app (built-in set)
# Numbers the pages would otherwise compute on their first visit, precomputed for the built-in
# photos by dashboard/data/build_demo_cache.py and committed in dashboard/data/page_cache/builtin/:
# ``predictions.csv`` (model, id, p_cat, p_dog: every zoo model on every image of the pages' demo
# sets, clean and watermarked ids). ``meta.json``'s fingerprint hashes the zoo weights and cards,
# PAGE_CACHE_VERSION and the set's MANIFEST.csv (file contents only, as the audit report's: a fresh
# clone computes the same one); a table whose fingerprint differs is ignored and the page computes.
PAGE_CACHE_VERSION = 1
PAGE_CACHE_DIR = Path(__file__).resolve().parent.parent / "data" / "page_cache"
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
