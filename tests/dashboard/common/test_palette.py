"""The chips' cat→dog colours are the library's PuOr ramp."""

from __future__ import annotations

from dashboard.common.palette import puor


def test_chip_colours_come_from_the_librarys_ramp() -> None:
    # the ramp's ends and middle (ColorBrewer PuOr), as hex chips
    assert (puor(0.0), puor(0.5), puor(1.0)) == ("#7f3b08", "#f7f7f7", "#2d004b")
