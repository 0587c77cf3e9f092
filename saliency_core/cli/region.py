"""``--region x0,y0,x1,y1``: one parser for the subcommands that take a box."""

from __future__ import annotations


def parse_region(text: str, size: int, frame: str = "images") -> tuple[int, int, int, int]:
    """``"10,20,30,40"`` -> (10, 20, 30, 40): four integers, a non-empty box inside ``size`` × ``size``
    (``frame`` names what that square is, for the message)."""
    try:
        x0, y0, x1, y1 = (int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"--region must be four integers x0,y0,x1,y1, got {text!r}") from None
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"--region {text} is empty: need x1 > x0 and y1 > y0")
    if x0 < 0 or y0 < 0 or x1 > size or y1 > size:
        raise ValueError(f"--region {text} lies outside the {size}x{size} {frame}: "
                         f"need 0 <= x0 < x1 <= {size} and 0 <= y0 < y1 <= {size}")
    return x0, y0, x1, y1
