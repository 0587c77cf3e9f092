"""HTML image galleries: many small images with chips in ONE element (fast to send and render).

``gallery_html(items, size)`` where each item is ``(data_uri, caption_html, title)``; render with
``st.markdown(html, unsafe_allow_html=True)``. The captions are trusted HTML (our chips only).
"""

from __future__ import annotations

import html as _html
from collections.abc import Iterable

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
