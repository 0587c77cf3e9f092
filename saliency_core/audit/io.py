"""Reading and atomically writing audit tables (Parquet or CSV, chosen by the file extension)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

KEY = ["id", "model", "method"]
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def table_format(path: Path) -> str:
    try:
        return _FORMATS[Path(path).suffix.lower()]
    except KeyError:
        raise ValueError(f"output {path} must end in .parquet, .pq or .csv") from None


def read_table(path: Path) -> pd.DataFrame | None:
    """The existing table at ``path``, or None when there is none yet."""
    path = Path(path)
    kind = table_format(path)
    if not path.exists():
        return None
    if kind == "parquet":
        table = pd.read_parquet(path)
    else:  # ids such as "007" must stay strings to match on resume
        table = pd.read_csv(path, dtype={key: str for key in KEY})
    missing = [key for key in KEY if key not in table.columns]
    if missing:
        raise ValueError(f"{path} is not an audit table: missing columns {missing}")
    return table


def write_table(table: pd.DataFrame, path: Path) -> None:
    """Write to a temporary file beside ``path`` and rename it over ``path``.

    ``os.replace`` is atomic on POSIX and Windows, so a crash leaves either the old or the new
    complete file, never a truncated one.
    """
    path = Path(path)
    kind = table_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if kind == "parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
