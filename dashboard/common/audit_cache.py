"""The Dataset audit page's demo report, precomputed on disk per photo set, and when it is stale.

``dashboard/data/build_demo_cache.py`` computes the report with ``saliency_core.audit.report``
(the function the page falls back to) and writes it as small CSVs plus ``meta.json`` into one
folder per photo set: ``dashboard/data/demo_audit/builtin/`` (the built-in photos, with pet
masks) and ``.../kaggle/`` (the cats-vs-dogs photos ``SALIENCY_DATA`` points at). The meta's
fingerprint hashes the zoo weights and cards it was made with, :data:`REPORT_VERSION`, the set's
name and its ``MANIFEST.csv`` (which names every photo, and for the built-in set their SHA-256):
file contents only, never paths or times, so a fresh clone computes the same fingerprint.

A report the page had to compute itself is saved under ``saliency_core.data.cache_dir()``
(``SALIENCY_CACHE``, default ``~/.cache/saliency-lab``) in ``demo_audit/<set>/``, so it survives
a restart of the server.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from saliency_core.audit.report import PET_CORE_SPURIOUS_COLUMNS, PET_SALIENCY_COLUMNS, TABLES, AuditReport
from saliency_core.data import cache_dir as user_cache_root
from saliency_core.data.builtin import is_builtin
from saliency_core.zoo import WEIGHTS_DIR

REPORT_VERSION = 3  # 3: per photo set; the pet-mask tables
AUDIT_MODELS: tuple[str, ...] = ("normal", "watermark-25", "watermark-50", "watermark-75",
                                 "watermark-100", "cages", "colours")
CACHE_DIR = Path(__file__).resolve().parent.parent / "data" / "demo_audit"
BUILTIN_SET, KAGGLE_SET = "builtin", "kaggle"
SET_TITLES = {BUILTIN_SET: "the built-in photos (Oxford-IIIT Pet, with pet masks)",
              KAGGLE_SET: "the cats-vs-dogs photos (SALIENCY_DATA)"}
# Tables added after version 2: an older report without them still loads (they are empty).
OPTIONAL_TABLES = {"pet_saliency": PET_SALIENCY_COLUMNS, "pet_core_spurious": PET_CORE_SPURIOUS_COLUMNS}


def cache_dir() -> Path:
    """The committed reports' folder, one subfolder per set (``SALIENCY_AUDIT_CACHE`` overrides it)."""
    return Path(os.environ.get("SALIENCY_AUDIT_CACHE") or CACHE_DIR)


def computed_dir() -> Path:
    """Where the page saves reports it computed (survives restarts): ``cache_dir()/demo_audit``
    of ``saliency_core.data``."""
    return user_cache_root() / "demo_audit"


def photo_set(root: str | os.PathLike[str] | None) -> str:
    """The set's name: :data:`BUILTIN_SET` for the built-in photos, else :data:`KAGGLE_SET`."""
    return BUILTIN_SET if root is not None and is_builtin(root) else KAGGLE_SET


def set_digest(root: str | os.PathLike[str]) -> str:
    """A hash of the set's ``MANIFEST.csv`` bytes ("missing" when it has none)."""
    try:
        return hashlib.sha256((Path(root) / "MANIFEST.csv").read_bytes()).hexdigest()
    except OSError:
        return "missing"


def zoo_fingerprint(names: Sequence[str], photos: str = "", *, version: int = REPORT_VERSION) -> str:
    """The cache's staleness key: a hash of these zoo models' weight files and cards, the report's
    version and ``photos`` (the set's name and manifest digest, :func:`set_key`). Models added to
    the zoo later do not make an existing report stale."""
    digest = hashlib.sha256(f"report-v{version}".encode())
    digest.update(photos.encode())
    for name in sorted(set(names)):
        for file in (WEIGHTS_DIR / f"{name}.safetensors", WEIGHTS_DIR / f"{name}.json"):
            digest.update(file.name.encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest() if file.is_file() else b"missing")
    return digest.hexdigest()[:16]


def set_key(root: str | os.PathLike[str]) -> str:
    """``<set>:<manifest sha256>``, the photo part of the fingerprint."""
    return f"{photo_set(root)}:{set_digest(root)}"


def report_fingerprint(names: Sequence[str], root: str | os.PathLike[str]) -> str:
    """The fingerprint of a report of ``names`` on the photos at ``root``."""
    return zoo_fingerprint(names, set_key(root))


def report_models(meta: dict[str, Any]) -> list[str]:
    """The zoo models a report was computed with (random-labels included when it was used)."""
    return [*meta.get("models", []), *(["random-labels"] if meta.get("random_labels_model") else [])]


def is_fresh(meta: dict[str, Any], root: str | os.PathLike[str]) -> bool:
    """Whether a report's meta matches the installed zoo and the photos at ``root``."""
    return meta.get("fingerprint") == report_fingerprint(report_models(meta), root)


def save_report(report: AuditReport, folder: Path, meta: dict[str, Any]) -> None:
    """Small CSVs (floats to 6 significant digits) plus ``meta.json`` with the fingerprint, written
    to a temporary folder first and renamed, so a reader never sees half a report."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name, table in report.tables().items():
        table.to_csv(tmp / f"{name}.csv", index=False, float_format="%.6g")
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def load_report(folder: Path) -> tuple[AuditReport, dict[str, Any]] | None:
    """The cached report and its meta, or None when a file is missing or unreadable."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        tables = {}
        for name in TABLES:
            path = folder / f"{name}.csv"
            if name in OPTIONAL_TABLES and not path.is_file():
                tables[name] = pd.DataFrame(columns=OPTIONAL_TABLES[name])
            else:
                tables[name] = pd.read_csv(path)
    except (OSError, ValueError):
        return None
    return AuditReport(**tables), meta


def stored_reports(root: str | os.PathLike[str] | None) -> list[tuple[str, tuple[AuditReport, dict[str, Any]]]]:
    """The reports on disk for the set at ``root``: ("committed", …) from :func:`cache_dir`, then
    ("computed", …) from :func:`computed_dir`, those that load."""
    name = photo_set(root)
    found = []
    for where, folder in (("committed", cache_dir() / name), ("computed", computed_dir() / name)):
        loaded = load_report(folder)
        if loaded is not None:
            found.append((where, loaded))
    return found
