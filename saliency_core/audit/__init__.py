"""The dataset audit: stream images through models x saliency methods into one tidy table.

>>> table = run({"colour": model}, ["gradient_squared"], "data/cats-vs-dogs", out="audit.parquet")
>>> table = run(models, methods, "/shared/photos", out="/shared/audit.parquet", engine="ray")  # docs/SCALING.md
>>> summarize(table, by=("model", "method", "truth"))
>>> report = build_report(models, demo_audit_data(data_dir()))   # the demo's whole bias report
"""

from __future__ import annotations

from .dataset import Batch, iter_batches
from .io import read_table, write_table
from .report import AuditData, AuditReport, build_report, demo_audit_data
from .run import run
from .shards import read_parts
from .summary import quadrant, summarize

__all__ = ["AuditData", "AuditReport", "Batch", "build_report", "demo_audit_data", "iter_batches", "quadrant",
           "read_parts", "read_table", "run", "summarize", "write_table"]
