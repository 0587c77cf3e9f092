"""The manual-occlusion grid: a Custom Component v2 (inline HTML/CSS/JS, no iframe, no network).

Python sends the image, the grid, the cells already hidden and, per model, the prediction with
those cells hidden plus the precomputed prediction with each further cell hidden. Hovering a cell
blacks it out and shows both models' predictions for it, answered in the browser; mouse-out
restores them. Clicking a cell sends a ``toggle`` trigger with its index; the page adds it to (or
removes it from) the cumulative set and re-predicts in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

NAME = "saliency_lab_occlusion_grid"

CSS = """
.sl-occ { display: flex; gap: 1.25rem; align-items: flex-start; flex-wrap: wrap;
          font-family: var(--st-font, sans-serif); color: var(--st-text-color, #222); }
.sl-occ-stage { position: relative; user-select: none; line-height: 0; flex: none; }
.sl-occ-stage img { display: block; border-radius: 4px; }
.sl-occ-cells { position: absolute; inset: 0; }
.sl-occ-cell { position: absolute; box-sizing: border-box; border: 1px solid rgba(255,255,255,.35);
               cursor: pointer; }
.sl-occ-cell.hidden { background: #000; border-color: rgba(255,255,255,.15); }
.sl-occ-cell.hover { background: #000; outline: 2px solid #fdb863; outline-offset: -2px; }
.sl-occ-cell.hidden.hover { background: rgba(0,0,0,.55); }
.sl-occ-side { display: flex; flex-direction: column; gap: .6rem; min-width: 14rem; }
.sl-occ-row { display: flex; flex-direction: column; gap: .15rem; }
.sl-occ-title { font-weight: 600; font-size: .95rem; }
.sl-occ-chip { display: inline-block; padding: 1px 10px; border-radius: 10px; font-weight: 600;
               font-size: .95rem; color: #fff; white-space: nowrap; width: fit-content; }
.sl-occ-hint { font-size: .8rem; opacity: .7; line-height: 1.3; }
"""

HTML = '<div class="sl-occ"></div>'

JS = """
const CAT = "#e08214", DOG = "#542788";

function chip(el, pDog) {
  const dog = pDog >= 0.5;
  const p = dog ? pDog : 1 - pDog;
  el.textContent = (dog ? "dog " : "cat ") + (100 * p).toFixed(1) + "%";
  el.style.background = dog ? DOG : CAT;
  el.dataset.label = dog ? "dog" : "cat";
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector(".sl-occ");
  if (!root || !data) return;
  const n = data.n, edges = data.edges, size = data.size, px = data.display;
  const scale = px / size;
  const hidden = new Set(data.occluded || []);
  root.innerHTML = "";

  const stage = document.createElement("div");
  stage.className = "sl-occ-stage";
  stage.style.width = px + "px";
  stage.style.height = px + "px";
  const img = document.createElement("img");
  img.src = data.image; img.width = px; img.height = px; img.alt = "image to occlude";
  img.draggable = false;
  stage.appendChild(img);
  const cells = document.createElement("div");
  cells.className = "sl-occ-cells";
  stage.appendChild(cells);

  const side = document.createElement("div");
  side.className = "sl-occ-side";
  const chips = data.models.map((m) => {
    const row = document.createElement("div");
    row.className = "sl-occ-row";
    const t = document.createElement("div");
    t.className = "sl-occ-title"; t.textContent = m.title;
    const c = document.createElement("span");
    c.className = "sl-occ-chip sl-chip"; c.dataset.model = m.name;
    row.appendChild(t); row.appendChild(c); side.appendChild(row);
    chip(c, m.base);
    return c;
  });
  const hint = document.createElement("div");
  hint.className = "sl-occ-hint";
  hint.textContent = "Hover a cell to hide it; click to keep it hidden (click again to restore).";
  side.appendChild(hint);

  const showBase = () => data.models.forEach((m, i) => chip(chips[i], m.base));
  for (let k = 0; k < n * n; k++) {
    const iy = Math.floor(k / n), ix = k % n;
    // Cell edges in model-frame pixels (an exact partition: cells differ by at most one pixel).
    const x0 = edges[ix], y0 = edges[iy], x1 = edges[ix + 1], y1 = edges[iy + 1];
    const cell = document.createElement("div");
    cell.className = "sl-occ-cell" + (hidden.has(k) ? " hidden" : "");
    cell.dataset.cell = String(k);
    cell.style.left = (x0 * scale) + "px"; cell.style.top = (y0 * scale) + "px";
    cell.style.width = ((x1 - x0) * scale) + "px"; cell.style.height = ((y1 - y0) * scale) + "px";
    cell.onmouseenter = () => {
      cell.classList.add("hover");
      if (!hidden.has(k)) data.models.forEach((m, i) => chip(chips[i], m.hover[k]));
    };
    cell.onmouseleave = () => { cell.classList.remove("hover"); showBase(); };
    cell.onclick = () => setTriggerValue("toggle", { cell: k, t: Date.now() });
    cells.appendChild(cell);
  }
  root.appendChild(stage);
  root.appendChild(side);
  return () => { root.innerHTML = ""; };
}
"""

_component = st.components.v2.component(NAME, html=HTML, css=CSS, js=JS)


def occlusion_grid(
    *,
    image_uri: str,
    n: int,
    edges: Sequence[int],
    size: int,
    occluded: Sequence[int],
    models: Sequence[dict[str, Any]],
    key: str,
    on_toggle: Callable[[], None],
    display: int = 384,
) -> Any:
    """Mount the grid. ``edges``: the n + 1 cell edges in pixels of the ``size``-pixel frame (the
    same on both axes). ``models``: ``{"name", "title", "base": P(dog), "hover": [P(dog)] * n²}``.

    ``on_toggle`` runs (before the rerun) when a cell is clicked; read the cell with
    :func:`clicked_cell`.
    """
    data = {
        "image": image_uri, "n": int(n), "edges": [int(e) for e in edges], "size": int(size),
        "display": int(display), "occluded": [int(c) for c in occluded],
        "models": [
            {"name": m["name"], "title": m["title"], "base": float(m["base"]),
             "hover": [round(float(p), 5) for p in m["hover"]]}
            for m in models
        ],
    }
    return _component(key=key, data=data, on_toggle_change=on_toggle, width="stretch", height="content")


def clicked_cell(key: str) -> int | None:
    """The cell index of the click that triggered the current callback (None when none)."""
    state = st.session_state.get(key)
    value = None
    if state is not None:
        value = state.get("toggle") if hasattr(state, "get") else getattr(state, "toggle", None)
    if isinstance(value, dict):
        value = value.get("cell")
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None
