"""The Dataset audit page's demo report, precomputed on disk, and when it is stale.

``dashboard/data/build_demo_cache.py`` computes the report with ``saliency_core.audit.report``
(the function the page falls back to) and writes it here as small CSVs plus ``meta.json``. The
meta's fingerprint hashes the zoo weights it was made with and :data:`REPORT_VERSION`, so new
weights or a new way of computing it make the cache stale.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from saliency_core.audit.report import TABLES, AuditReport
from saliency_core.zoo import WEIGHTS_DIR

REPORT_VERSION = 2
AUDIT_MODELS: tuple[str, ...] = ("normal", "watermark-25", "watermark-50", "watermark-75",
                                 "watermark-100", "cages", "colours")
CACHE_DIR = Path(__file__).resolve().parent.parent / "data" / "demo_audit"


def cache_dir() -> Path:
    """The demo report's folder (``SALIENCY_AUDIT_CACHE`` overrides it, e.g. in tests)."""
    return Path(os.environ.get("SALIENCY_AUDIT_CACHE") or CACHE_DIR)


def zoo_fingerprint(names: Sequence[str]) -> str:
    """A hash of these zoo models' weight files and cards plus the report's version: the cache's
    staleness key (models added to the zoo later do not make an existing report stale)."""
    digest = hashlib.sha256(f"report-v{REPORT_VERSION}".encode())
    for name in sorted(set(names)):
        for file in (WEIGHTS_DIR / f"{name}.safetensors", WEIGHTS_DIR / f"{name}.json"):
            digest.update(file.name.encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest() if file.is_file() else b"missing")
    return digest.hexdigest()[:16]


def report_models(meta: dict[str, Any]) -> list[str]:
    """The zoo models a report was computed with (random-labels included when it was used)."""
    return [*meta.get("models", []), *(["random-labels"] if meta.get("random_labels_model") else [])]


def save_report(report: AuditReport, folder: Path, meta: dict[str, Any]) -> None:
    """Small CSVs (floats to 6 significant digits) plus ``meta.json`` with the fingerprint."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in report.tables().items():
        table.to_csv(folder / f"{name}.csv", index=False, float_format="%.6g")
    (folder / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def load_report(folder: Path | None = None) -> tuple[AuditReport, dict[str, Any]] | None:
    """The cached report and its meta, or None when any file is missing or unreadable."""
    folder = folder or cache_dir()
    try:
        meta = json.loads((folder / "meta.json").read_text())
        tables = {name: pd.read_csv(folder / f"{name}.csv") for name in TABLES}
    except (OSError, ValueError):
        return None
    return AuditReport(**tables), meta
