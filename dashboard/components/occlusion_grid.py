"""The manual-occlusion grid: a Custom Component v2 (inline HTML/CSS/JS, no iframe, no network).

Python sends the image, the grid, the cells already hidden and, per model, the prediction with
those cells hidden plus the precomputed prediction with each further cell hidden. Hovering a cell
blacks it out and shows both models' predictions for it, answered in the browser; mouse-out
restores them. Clicking a cell sends a ``toggle`` trigger with its index; the page adds it to (or
removes it from) the cumulative set and re-predicts in Python.

Keyboard: the cells form an ARIA grid with one tab stop (roving tabindex). Tab enters it, the
arrow keys (and Home/End, Ctrl+Home/End) move, Enter or Space toggles the focused cell; focusing a
cell previews its predictions as hovering does, and each cell's label says its row, column and
whether it is hidden. The image scales to the container's width (at most ``display`` pixels), so
the grid fits a phone's screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from dashboard.components import trigger_value

NAME = "saliency_lab_occlusion_grid"

CSS = """
.sl-occ { display: flex; gap: 1.25rem; align-items: flex-start; flex-wrap: wrap; max-width: 100%;
          font-family: var(--st-font, sans-serif); color: var(--st-text-color, #222); }
/* The stage scales down to its container (a phone's width) and never grows past ``display`` px. */
.sl-occ-stage { position: relative; user-select: none; line-height: 0; flex: 0 1 auto; width: 100%;
                min-width: 0; aspect-ratio: 1 / 1; }
.sl-occ-stage img { display: block; width: 100%; height: 100%; border-radius: 4px; }
.sl-occ-cells { position: absolute; inset: 0; }
.sl-occ-rowgroup { display: contents; }
.sl-occ-cell { position: absolute; box-sizing: border-box; border: 1px solid rgba(255,255,255,.35);
               cursor: pointer; }
.sl-occ-cell.hidden { background: #000; border-color: rgba(255,255,255,.15); }
.sl-occ-cell.hover { background: #000; outline: 2px solid #fdb863; outline-offset: -2px; }
.sl-occ-cell.hidden.hover { background: rgba(0,0,0,.55); }
/* Keyboard focus: a thick ring on a dark halo, visible on light and dark photos alike. */
.sl-occ-cell:focus { outline: none; }
.sl-occ-cell:focus-visible { background: #000; outline: 3px solid #fdb863; outline-offset: -3px;
                             box-shadow: inset 0 0 0 5px rgba(0,0,0,.75); z-index: 1; }
.sl-occ-cell.hidden:focus-visible { background: rgba(0,0,0,.55); }
.sl-occ-side { display: flex; flex-direction: column; gap: .6rem; min-width: min(14rem, 100%); }
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

function cellLabel(k, n, isHidden) {
  return "cell row " + (Math.floor(k / n) + 1) + " column " + (k % n + 1) + ", " + (isHidden ? "hidden" : "shown");
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector(".sl-occ");
  if (!root || !data) return;
  const n = data.n, edges = data.edges, size = data.size, px = data.display;
  const pct = (v) => (100 * v / size) + "%";
  const hidden = new Set(data.occluded || []);
  // The keyboard's place survives Python's rerun (the DOM is rebuilt): it lives on the host element.
  const kb = parentElement.__slOccKeyboard || (parentElement.__slOccKeyboard = { active: 0, refocus: false });
  if (kb.active >= n * n) kb.active = 0;
  root.innerHTML = "";

  const stage = document.createElement("div");
  stage.className = "sl-occ-stage";
  stage.style.maxWidth = px + "px";
  const img = document.createElement("img");
  img.src = data.image; img.width = px; img.height = px; img.alt = "image to occlude";
  img.draggable = false;
  stage.appendChild(img);
  const cells = document.createElement("div");
  cells.className = "sl-occ-cells";
  cells.setAttribute("role", "grid");
  cells.setAttribute("aria-label", "Occlusion grid, " + n + " by " + n + " cells: arrow keys move, "
                     + "Enter or Space hides or shows a cell");
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
    c.setAttribute("aria-live", "polite");
    row.appendChild(t); row.appendChild(c); side.appendChild(row);
    chip(c, m.base);
    return c;
  });
  const hint = document.createElement("div");
  hint.className = "sl-occ-hint";
  hint.textContent = "Hover a cell to hide it; click to keep it hidden (click again to restore). "
                     + "Keyboard: Tab into the grid, arrow keys move, Enter or Space hides or shows the cell.";
  side.appendChild(hint);

  const showBase = () => data.models.forEach((m, i) => chip(chips[i], m.base));
  const preview = (k) => { if (!hidden.has(k)) data.models.forEach((m, i) => chip(chips[i], m.hover[k])); };
  const all = [];
  const setActive = (k) => {  // the grid's one tab stop
    if (all[kb.active]) all[kb.active].tabIndex = -1;
    kb.active = k;
    all[k].tabIndex = 0;
  };
  const toggle = (k, fromKeyboard) => {
    setActive(k); kb.refocus = fromKeyboard;
    // Shown at once; Python answers with the new predictions and redraws the grid.
    const cell = all[k];
    if (hidden.has(k)) hidden.delete(k); else hidden.add(k);
    cell.classList.toggle("hidden", hidden.has(k));
    cell.setAttribute("aria-selected", String(hidden.has(k)));
    cell.setAttribute("aria-label", cellLabel(k, n, hidden.has(k)));
    setTriggerValue("toggle", { cell: k, t: Date.now() });
  };
  const moveTo = (k) => { setActive(k); all[k].focus({ focusVisible: true }); };
  const onKey = (event, k) => {
    const iy = Math.floor(k / n), ix = k % n;
    let next = null;
    switch (event.key) {
      case "ArrowLeft": next = iy * n + Math.max(ix - 1, 0); break;
      case "ArrowRight": next = iy * n + Math.min(ix + 1, n - 1); break;
      case "ArrowUp": next = Math.max(iy - 1, 0) * n + ix; break;
      case "ArrowDown": next = Math.min(iy + 1, n - 1) * n + ix; break;
      case "Home": next = event.ctrlKey ? 0 : iy * n; break;
      case "End": next = event.ctrlKey ? n * n - 1 : iy * n + n - 1; break;
      case "Enter": case " ": case "Spacebar":
        event.preventDefault(); toggle(k, true); return;
      default: return;
    }
    event.preventDefault();  // arrows would otherwise scroll the page
    moveTo(next);
  };

  for (let iy = 0; iy < n; iy++) {
    const row = document.createElement("div");
    row.className = "sl-occ-rowgroup";
    row.setAttribute("role", "row");
    for (let ix = 0; ix < n; ix++) {
      const k = iy * n + ix;
      // Cell edges in model-frame pixels (an exact partition: cells differ by at most one pixel),
      // placed in percent of the stage so the grid scales with it.
      const x0 = edges[ix], y0 = edges[iy], x1 = edges[ix + 1], y1 = edges[iy + 1];
      const cell = document.createElement("div");
      cell.className = "sl-occ-cell" + (hidden.has(k) ? " hidden" : "");
      cell.dataset.cell = String(k);
      cell.setAttribute("role", "gridcell");
      cell.setAttribute("aria-selected", String(hidden.has(k)));
      cell.setAttribute("aria-label", cellLabel(k, n, hidden.has(k)));
      cell.tabIndex = k === kb.active ? 0 : -1;  // roving tabindex: Tab enters the grid once
      cell.style.left = pct(x0); cell.style.top = pct(y0);
      cell.style.width = pct(x1 - x0); cell.style.height = pct(y1 - y0);
      cell.onmouseenter = () => { cell.classList.add("hover"); preview(k); };
      cell.onmouseleave = () => { cell.classList.remove("hover"); showBase(); };
      cell.onfocus = () => { setActive(k); if (cell.matches(":focus-visible")) preview(k); };
      cell.onblur = () => showBase();
      cell.onkeydown = (event) => onKey(event, k);
      cell.onclick = () => toggle(k, false);
      row.appendChild(cell);
      all.push(cell);
    }
    cells.appendChild(row);
  }
  root.appendChild(stage);
  root.appendChild(side);
  if (kb.refocus) all[kb.active].focus({ focusVisible: true });
  kb.refocus = false;
  return () => {
    // A rebuild while the keyboard is in the grid keeps the focus on the same cell (not after a
    // mouse click, which would leave a focus ring behind).
    const focused = root.getRootNode().activeElement;  // the component lives in a shadow root
    kb.refocus = kb.refocus || (root.contains(focused) && focused.matches(":focus-visible"));
    root.innerHTML = "";
  };
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
    value = trigger_value(key, "toggle", "cell")
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None
