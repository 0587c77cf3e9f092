"""Manifests and image file names, without PyTorch: what a folder of photos lists, read cheaply.

The dashboard's sidebar counts the photos through this module on a server's first page, before
PyTorch is loaded; ``loaders`` re-exports both names.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .files import read_regular_file, shown_name

# What the dashboard's upload accepts too (its IMAGE_TYPES).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")


def read_manifest(path: str | Path) -> list[dict[str, str]]:
    """Rows of a manifest CSV (needs at least the columns file and species)."""
    path = Path(path)
    data = read_regular_file(path, label=f"manifest {shown_name(path)}", what="manifest file")
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        missing = {"file", "species"} - set(reader.fieldnames or ())
        rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"manifest {shown_name(path)} is not a CSV text file ({type(err).__name__})") from None
    if missing:
        raise ValueError(f"manifest {shown_name(path)} lacks column(s) {sorted(missing)}")
    return rows
