"""HTML image galleries: many small images with chips in ONE element (fast to send and render).

``gallery_html(items, size)`` where each item is ``(data_uri, caption_html, title)``, and
``figure_grid_html`` (pictures under column headings); render with ``st.html`` (no Markdown to
parse: the browser took ~0.1 s to parse a 50-photo gallery as Markdown). The captions are trusted
HTML (our chips only).
"""

from __future__ import annotations

import html as _html
from collections.abc import Iterable, Sequence

GALLERY_CSS = (
    "display:flex;flex-wrap:wrap;gap:6px;align-items:flex-start;"
)
ITEM_CSS = "display:flex;flex:none;flex-direction:column;align-items:center;gap:2px;"


def gallery_html(items: Iterable[tuple[str, str, str]], size: int = 96, *, css_class: str = "sl-gallery") -> str:
    parts = [f'<div class="{css_class}" style="{GALLERY_CSS}">']
    for uri, caption, title in items:
        parts.append(
            f'<div class="sl-item" style="{ITEM_CSS}width:{size}px" title="{_html.escape(title)}">'
            f'<img src="{uri}" width="{size}" height="{size}" alt="{_html.escape(title)}" '
            f'style="display:block;width:{size}px;height:{size}px;max-width:none;border-radius:4px"/>'
            f"{caption}</div>"
        )
    parts.append("</div>")
    return "".join(parts)


def figure_grid_html(rows: Sequence[Sequence[tuple[str, str, str]]], *, headings: Sequence[str] = (),
                     css_class: str, label: str) -> str:
    """One HTML grid of pictures that never stacks (on a phone, too, each picture stays under its
    heading): ``headings`` (none: no heading row), then ``rows`` of figures ``(data URI, alt text,
    caption HTML)`` (an empty URI leaves the picture out), all of one length. Captions are trusted
    HTML (our chips). Render with ``st.html``: one element, where pictures in columns were one per
    picture."""
    columns = len(headings) or (len(rows[0]) if rows else 0)
    if columns == 0 or any(len(row) != columns for row in rows):
        raise ValueError(f"rows must be non-empty and have one figure per column ({columns})")
    parts = [(f'<div class="{css_class}" role="table" aria-label="{_html.escape(label)}" style="display:grid;'
              f'grid-template-columns:repeat({columns},minmax(0,1fr));gap:.6rem .5rem;align-items:start">')]
    parts += [f'<div role="columnheader" style="font-weight:600">{_html.escape(h)}</div>' for h in headings]
    for row in rows:
        for uri, alt, caption in row:
            picture = (f'<img src="{uri}" alt="{_html.escape(alt)}" style="display:block;width:100%;'
                       f'border-radius:4px"/>' if uri else "")
            parts.append(f'<figure style="margin:0">{picture}'
                         f'<figcaption style="font-size:.85rem;margin-top:.2rem">{caption}</figcaption></figure>')
    parts.append("</div>")
    return "".join(parts)
