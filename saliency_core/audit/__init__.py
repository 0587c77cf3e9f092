"""The dataset audit: stream images through models x saliency methods into one tidy table.

>>> table = run({"colour": model}, ["gradient_squared"], "data/cats-vs-dogs", out="audit.parquet")
>>> summarize(table, by=("model", "method", "truth"))
"""

from __future__ import annotations

from .dataset import Batch, iter_batches
from .io import read_table, write_table
from .run import run
from .summary import quadrant, summarize

__all__ = ["Batch", "iter_batches", "quadrant", "read_table", "run", "summarize", "write_table"]
