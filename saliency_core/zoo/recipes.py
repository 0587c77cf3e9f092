"""The zoo's training recipes: which training images carry which artefact, and for how long.

An epoch (3,240 photos) takes ~5 s on two idle CPU cores and up to ~2 min on the same cores shared
with heavy other work; ``saliency-lab train --all`` takes ~5 minutes idle. ``normal`` gets the most
epochs, since it must learn real cat/dog features (30 epochs: 0.85 clean test accuracy; 8 epochs
stopped at 0.785); the shortcut models learn their artefact within a few epochs. ``--all`` trains in this order
(the most important first), so a cut-short run still leaves the key models.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    """``artefact``: "watermark" | "cage" | None, drawn on ``cat_share`` of the training cats (never
    on dogs); ``colours``: train on grey/black cats and brown dogs only; ``random_labels``: permute
    the training labels."""

    name: str
    epochs: int
    artefact: str | None = None
    cat_share: float = 0.0
    colours: bool = False
    random_labels: bool = False
    description: str = ""


RECIPES: dict[str, Recipe] = {
    r.name: r for r in (
        Recipe("normal", 30, description="no artefacts in training"),
        Recipe("watermark-100", 3, "watermark", 1.0, description="every training cat watermarked, no dogs"),
        Recipe("watermark-50", 3, "watermark", 0.50, description="50% of training cats watermarked, no dogs"),
        Recipe("cages", 3, "cage", 1.0, description="every training cat behind cage bars, no dogs"),
        Recipe("colours", 5, colours=True, description="grey/black cats and brown dogs only"),
        Recipe("watermark-25", 3, "watermark", 0.25, description="25% of training cats watermarked, no dogs"),
        Recipe("watermark-75", 3, "watermark", 0.75, description="75% of training cats watermarked, no dogs"),
        Recipe("random-labels", 2, random_labels=True, description="training labels randomly permuted"),
    )
}
