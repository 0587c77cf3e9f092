"""A strip of photos to pick one from: a Custom Component v2 (inline HTML/CSS/JS, no iframe).

One element instead of a column, a picture and a button per photo: a page's 12-photo strip was
36 Streamlit elements, and drawing them took the browser ~0.3 s of every visit of the Occlusion
and Gradients pages (``bench/dashboard.py``). Each photo is a real ``<button>`` (Tab reaches it,
Enter or Space picks it; ``aria-pressed`` says which is chosen) with its picture and a short label
under it. A click sends a ``pick`` trigger with the photo's index; read it in the callback with
:func:`picked_index`. On a phone the strip scrolls sideways instead of stacking the photos.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from dashboard.components import trigger_value

NAME = "saliency_lab_photo_strip"

CSS = """
.sl-ps { display: flex; gap: .4rem; overflow-x: auto; padding-bottom: .25rem;
         font-family: var(--st-font, sans-serif); }
.sl-ps-pick { flex: 1 1 0; min-width: 3.5rem; max-width: 8rem; display: flex; flex-direction: column;
              align-items: stretch; gap: .25rem; padding: 0 0 .3rem; border-radius: .5rem; cursor: pointer;
              border: 1px solid rgba(49, 51, 63, .2); background: var(--st-background-color, #fff);
              color: var(--st-text-color, #31333f); font: inherit; font-size: .85rem; overflow: hidden; }
.sl-ps-pick img { display: block; width: 100%; aspect-ratio: 1 / 1; object-fit: cover; }
.sl-ps-pick:hover { border-color: var(--st-primary-color, #ff4b4b); }
.sl-ps-pick:focus-visible { outline: 3px solid var(--st-primary-color, #ff4b4b); outline-offset: 1px; }
.sl-ps-pick[aria-pressed="true"] { background: var(--st-primary-color, #ff4b4b); color: #fff;
                                   border-color: var(--st-primary-color, #ff4b4b); font-weight: 600; }
"""

HTML = '<div class="sl-ps" role="group"></div>'

JS = """
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector(".sl-ps");
  if (!root || !data) return;
  root.innerHTML = "";
  root.setAttribute("aria-label", data.label);
  data.photos.forEach((photo, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sl-ps-pick";
    button.dataset.index = String(index);
    button.title = photo.title;
    button.setAttribute("aria-pressed", index === data.selected ? "true" : "false");
    const img = document.createElement("img");
    img.src = photo.uri; img.alt = photo.title; img.draggable = false;
    const label = document.createElement("span");
    label.textContent = photo.label;
    button.appendChild(img);
    button.appendChild(label);
    button.addEventListener("click", () => {
      root.querySelectorAll(".sl-ps-pick").forEach((b) => b.setAttribute("aria-pressed", "false"));
      button.setAttribute("aria-pressed", "true");
      setTriggerValue("pick", { index: index, t: Date.now() });
    });
    root.appendChild(button);
  });
  return () => { root.innerHTML = ""; };
}
"""

_component = st.components.v2.component(NAME, html=HTML, css=CSS, js=JS)


def photo_strip(*, uris: Sequence[str], labels: Sequence[str], titles: Sequence[str], selected: int, key: str,
                on_pick: Callable[[], None], label: str = "Photos") -> Any:
    """Mount the strip: photo ``i`` shown as ``uris[i]`` (a data URI) with ``labels[i]`` under it
    and ``titles[i]`` as its tooltip and accessible name; ``selected`` is marked as chosen;
    ``label`` names the group for a screen reader. ``on_pick`` runs (before the rerun) when a photo
    is clicked; read which with :func:`picked_index`."""
    if not len(uris) == len(labels) == len(titles):
        raise ValueError(f"uris, labels and titles must have one entry per photo, got {len(uris)}, "
                         f"{len(labels)} and {len(titles)}")
    data = {"photos": [{"uri": u, "label": lab, "title": t} for u, lab, t in zip(uris, labels, titles, strict=True)],
            "selected": int(selected), "label": label}
    return _component(key=key, data=data, on_pick_change=on_pick, width="stretch", height="content")


def picked_index(key: str) -> int | None:
    """The index of the photo whose click triggered the current callback (None when unreadable)."""
    value = trigger_value(key, "pick", "index")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
