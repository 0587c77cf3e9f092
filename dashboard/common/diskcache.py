"""Results kept on disk between server starts, in ``saliency_core.data.cache_dir()/dashboard``.

Tables as Parquet (never pickles), written atomically; a key is hashed into the file name, so a
new key (other data, retrained weights: put ``model_fingerprint`` in it) never reads stale files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

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
