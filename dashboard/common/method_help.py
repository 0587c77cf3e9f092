"""One line per saliency method: what it computes, and when it misleads (the pages' help text).

The one place this text lives: the Gradients page shows it beside its method picker (``help=`` and
a table), and any page with a method picker can reuse :func:`help_text`. Every method registered in
:data:`saliency_core.methods.METHODS` has a line (a test checks it).
"""

from __future__ import annotations

from collections.abc import Iterable

METHOD_HELP: dict[str, tuple[str, str]] = {
    # name: (what it computes, when it misleads)
    "vanilla_gradient": (
        "∂ score / ∂ pixel: how much a tiny change of each pixel moves the class score; the map shows "
        "its size (largest |gradient| over the colour channels).",
        "Noisy and local: it says what a small nudge would do, not what the model relies on, and the "
        "picture drops whether a pixel pushes for or against the class."),
    "gradient_squared": (
        "The vanilla gradient squared: the few strongest pixels stand out and the rest fade.",
        "Squaring hides the direction and exaggerates a handful of pixels; a blank region is not proof "
        "the model ignores it."),
    "signed_gradient": (
        "∂ log-odds(class) / ∂ pixel, summed over channels and kept signed: which way brightening each "
        "pixel pushes the prediction.",
        "Like every gradient, only valid for small changes; positive and negative pixels side by side "
        "can cancel in a larger edit."),
    "gradient_x_input": (
        "Gradient × pixel value: a first-order guess of each pixel's contribution to the score.",
        "Black (zero) pixels always get zero, however much the model cares about them; dark photos look "
        "empty."),
    "smoothgrad": (
        "The vanilla gradient averaged over noisy copies of the photo: a calmer map.",
        "Smoothing can draw clean object outlines the model never used; results depend on the noise "
        "level and sample count."),
    "smoothgrad_squared": (
        "SmoothGrad of the squared gradient: the strongest pixels of the averaged map stand out.",
        "Hides direction like gradient squared, and inherits SmoothGrad's pretty-but-unfaithful edges."),
    "integrated_gradients": (
        "Gradients summed along a straight path from a baseline image (black by default) to the photo; "
        "the parts add up to the score change.",
        "The answer depends on the baseline: features the baseline already shares (black, dark fur) "
        "get little credit."),
    "guided_backprop": (
        "Backpropagates only positive signals through each ReLU: sharp, photo-like maps.",
        "Largely reconstructs the image's edges; it barely changes when the model's weights are "
        "randomised, so it can look right for a model that learned nothing."),
    "grad_cam": (
        "Last convolution's feature maps weighted by their gradient: a coarse heat map of the regions "
        "behind the class.",
        "Low resolution: small cues such as a watermark's letters blur into their surroundings."),
    "competitive_gradient_x_input": (
        "Gradient × input, keeping only the pixels that favour this class over the competing classes.",
        "Zeroes everything that is not a winner, so shared evidence and dark pixels vanish."),
    "rectified_gradient": (
        "Backpropagation that passes only each layer's most important units (the top 2% of activation "
        "× gradient), times the input: a sparse, crisp map.",
        "The threshold decides what survives, and multiplying by the input hides dark but relevant "
        "regions."),
    "rectified_gradient_unbiased": (
        "The rectified gradient without the final multiplication by the input (Brocki & Chung 2020).",
        "Same thresholding caveat: crisp maps can still miss diffuse evidence the model uses."),
    "occlusion": (
        "Hide one patch at a time and measure how much the class score drops: a direct test.",
        "Coarse (one value per patch), slow, and the grey or black patch is itself an unusual input the "
        "model may react to."),
}


def help_line(method: str) -> str:
    """'What it computes. Misleads when: …' for one method ('' for an unknown one)."""
    if method not in METHOD_HELP:
        return ""
    what, misleads = METHOD_HELP[method]
    return f"{what} **Misleads:** {misleads}"


def help_text(methods: Iterable[str], labels: dict[str, str] | None = None) -> str:
    """Markdown, one bullet per method (label, then :func:`help_line`), for a widget's ``help=``."""
    labels = labels or {}
    return "\n".join(f"- **{labels.get(m, m)}**: {help_line(m)}" for m in methods if m in METHOD_HELP)


def help_rows(methods: Iterable[str], labels: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Rows (method, what it computes, when it misleads) for a table."""
    labels = labels or {}
    return [{"Method": labels.get(m, m), "What it computes": METHOD_HELP[m][0],
             "When it misleads": METHOD_HELP[m][1]} for m in methods if m in METHOD_HELP]
