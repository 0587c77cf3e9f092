"""HTML galleries and picture grids (``dashboard.common.gallery``): one element, every picture in
its place, captions kept, bad shapes refused."""

from __future__ import annotations

import re

import pytest

from dashboard.common.gallery import figure_grid_html, gallery_html


def test_figure_grid_keeps_each_picture_under_its_heading() -> None:
    rows = [[(f"data:image/jpeg;base64,{r}{c}", f"alt {r}{c}", f"<b>cap {r}{c}</b>") for c in range(3)]
            for r in range(2)]
    body = figure_grid_html(rows, headings=["Input", "A & B", "C"], css_class="grid", label="maps")
    assert body.count('role="columnheader"') == 3 and "A &amp; B" in body  # headings escaped
    assert "grid-template-columns:repeat(3," in body  # never stacks: a fixed column count
    sources = re.findall(r'<img src="([^"]+)"', body)
    assert sources == [f"data:image/jpeg;base64,{r}{c}" for r in range(2) for c in range(3)]  # row by row
    assert "<b>cap 12</b>" in body  # captions are trusted HTML


def test_figure_grid_leaves_out_empty_pictures_and_needs_no_headings() -> None:
    body = figure_grid_html([[("", "", ""), ("data:x", "bar", "legend")]], css_class="legend", label="bar")
    assert body.count("<img ") == 1 and body.count("<figure") == 2
    assert "columnheader" not in body and "repeat(2," in body


@pytest.mark.parametrize("rows, headings", [([[("a", "", "")], [("a", "", ""), ("b", "", "")]], ()),
                                            ([[("a", "", "")]], ["x", "y"]), ([], ())])
def test_figure_grid_refuses_ragged_rows(rows: list, headings: list) -> None:
    with pytest.raises(ValueError, match="one figure per column"):
        figure_grid_html(rows, headings=headings, css_class="g", label="g")


def test_gallery_escapes_titles() -> None:
    body = gallery_html([("data:x", "<span>chip</span>", 'a "quoted" <id>')], size=50)
    assert 'title="a &quot;quoted&quot; &lt;id&gt;"' in body and "<span>chip</span>" in body
