"""Summaries of an audit table: the one function the dashboard and the CLI both call."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from saliency_core.metrics import wilson_interval

DEFAULT_BY = ("model", "method", "truth", "watermarked")


def quadrant(table: pd.DataFrame, threshold: float = 0.5) -> pd.Series:
    """The explorable's quadrants: (correct | wrong) x (artefact | elsewhere), where "artefact"
    means share > ``threshold``; images without a region get "<correct|wrong>/no region"."""
    correct = np.where(table["prediction"] == table["truth"], "correct", "wrong")
    looks = np.where(table["share"].isna(), "no region",
                     np.where(table["share"] > threshold, "artefact", "elsewhere"))
    return pd.Series([f"{c}/{s}" for c, s in zip(correct, looks)], index=table.index, name="quadrant")


def _wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    return wilson_interval(k, n, confidence) if n > 0 else (float("nan"), float("nan"))


def summarize(
    table: pd.DataFrame, by: Sequence[str] = DEFAULT_BY, *, threshold: float = 0.5,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per group of ``by`` (columns missing from the table are ignored; ``"quadrant"`` is
    derived on demand): n, accuracy with its Wilson CI, mean and median share, the fraction of
    images with share > ``threshold`` with its Wilson CI (over images that have a region), and the
    mean of every ``flip_*`` column (the flip rate).
    """
    if "quadrant" in by and "quadrant" not in table.columns:
        table = table.assign(quadrant=quadrant(table, threshold))
    keys = [key for key in by if key in table.columns]
    flip_columns = [c for c in table.columns if c.startswith("flip_")]
    rows = []
    groups = table.groupby(keys, sort=True, dropna=False) if keys else [((), table)]
    for values, group in groups:
        values = values if isinstance(values, tuple) else (values,)
        n = len(group)
        correct = int((group["prediction"] == group["truth"]).sum())
        shares = group["share"].dropna()
        over = int((shares > threshold).sum())
        acc_low, acc_high = _wilson(correct, n, confidence)
        over_low, over_high = _wilson(over, len(shares), confidence)
        row = dict(zip(keys, values))
        row.update({
            "n": n, "accuracy": correct / n if n else float("nan"),
            "accuracy_ci_low": acc_low, "accuracy_ci_high": acc_high,
            "mean_share": shares.mean() if len(shares) else float("nan"),
            "median_share": shares.median() if len(shares) else float("nan"),
            "share_over": over / len(shares) if len(shares) else float("nan"),
            "share_over_ci_low": over_low, "share_over_ci_high": over_high,
        })
        for column in flip_columns:
            row[column] = float(group[column].astype(float).mean())
        rows.append(row)
    return pd.DataFrame(rows)
