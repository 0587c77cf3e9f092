"""``--region x0,y0,x1,y1``: the box option of the subcommands that take one."""

from __future__ import annotations

from saliency_core.checks import Box, parse_box


def parse_region(text: str, size: int, frame: str = "images") -> Box:
    """``"10,20,30,40"`` -> (10, 20, 30, 40): four integers, a non-empty box inside the ``size`` ×
    ``size`` ``frame`` (what that square is, for the message); ``checks.parse_box`` says why not."""
    return parse_box(text, width=size, height=size, name="--region", frame=frame)
