"""Drag a box on a photo: a Custom Component v2 (inline HTML/CSS/JS, no iframe, no network).

Python sends a display-sized picture of the photo, the photo's own size and the box to outline (in
photo pixels). The picture scales to the container's width; a drag on it is turned into photo
pixels in the browser (x0, y0 floored, x1, y1 rounded up: the smallest box of photo pixels under
the drag, at least one pixel) and sent as a ``box`` trigger; :func:`drawn_box` reads it in the
callback. Keyboard users type the box instead (``dashboard.common.region_picker``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from dashboard.components import trigger_value

NAME = "saliency_lab_region_box"

CSS = """
.sl-rb { font-family: var(--st-font, sans-serif); color: var(--st-text-color, #222); max-width: 100%; }
.sl-rb-stage { position: relative; user-select: none; line-height: 0; width: 100%; cursor: crosshair;
               touch-action: none; }
.sl-rb-stage img { display: block; width: 100%; height: 100%; border-radius: 4px; pointer-events: none; }
.sl-rb-box, .sl-rb-band { position: absolute; box-sizing: border-box; pointer-events: none; }
.sl-rb-box { border: 3px solid #00e5ff; box-shadow: 0 0 0 1px rgba(0,0,0,.6), inset 0 0 0 1px rgba(0,0,0,.6); }
.sl-rb-band { border: 2px dashed #fdb863; background: rgba(253,184,99,.18); }
.sl-rb-readout { font-size: .8rem; opacity: .75; line-height: 1.4; margin-top: .3rem; min-height: 1.2em; }
"""

HTML = '<div class="sl-rb"></div>'

JS = """
function place(el, box, w, h) {
  el.style.left = (100 * box[0] / w) + "%"; el.style.top = (100 * box[1] / h) + "%";
  el.style.width = (100 * (box[2] - box[0]) / w) + "%"; el.style.height = (100 * (box[3] - box[1]) / h) + "%";
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector(".sl-rb");
  if (!root || !data) return;
  const W = data.width, H = data.height;
  root.innerHTML = "";

  const stage = document.createElement("div");
  stage.className = "sl-rb-stage";
  stage.style.maxWidth = data.display + "px";
  stage.style.aspectRatio = W + " / " + H;
  stage.setAttribute("role", "img");
  stage.setAttribute("aria-label", data.label);
  const img = document.createElement("img");
  img.src = data.image; img.alt = ""; img.draggable = false;
  stage.appendChild(img);
  if (data.box) {
    const box = document.createElement("div");
    box.className = "sl-rb-box";
    place(box, data.box, W, H);
    stage.appendChild(box);
  }
  const band = document.createElement("div");
  band.className = "sl-rb-band";
  band.hidden = true;
  stage.appendChild(band);
  const readout = document.createElement("div");
  readout.className = "sl-rb-readout";
  readout.textContent = data.hint;

  // A point of the pointer in photo pixels (fractional, clamped to the photo).
  const at = (event) => {
    const r = stage.getBoundingClientRect();
    const x = (event.clientX - r.left) / r.width * W, y = (event.clientY - r.top) / r.height * H;
    return [Math.min(Math.max(x, 0), W), Math.min(Math.max(y, 0), H)];
  };
  // The smallest box of whole photo pixels under the drag from a to b (at least one pixel).
  const boxOf = (a, b) => {
    let x0 = Math.floor(Math.min(a[0], b[0])), y0 = Math.floor(Math.min(a[1], b[1]));
    let x1 = Math.ceil(Math.max(a[0], b[0])), y1 = Math.ceil(Math.max(a[1], b[1]));
    x0 = Math.min(x0, W - 1); y0 = Math.min(y0, H - 1);
    return [x0, y0, Math.max(x1, x0 + 1), Math.max(y1, y0 + 1)];
  };
  let start = null, startPx = null;
  stage.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    stage.setPointerCapture(event.pointerId);
    start = at(event); startPx = [event.clientX, event.clientY];
  });
  stage.addEventListener("pointermove", (event) => {
    if (!start) return;
    const box = boxOf(start, at(event));
    band.hidden = false;
    place(band, box, W, H);
    readout.textContent = "x0,y0,x1,y1 = " + box.join(",") + " (photo pixels)";
  });
  const finish = (event, send) => {
    if (!start) return;
    const a = start, moved = Math.hypot(event.clientX - startPx[0], event.clientY - startPx[1]);
    start = null;
    if (!send || moved < 4) {  // a click, not a drag: keep the box as it is
      band.hidden = true; readout.textContent = data.hint;
      return;
    }
    const box = boxOf(a, at(event));
    readout.textContent = "x0,y0,x1,y1 = " + box.join(",") + " (photo pixels)";
    setTriggerValue("box", { box: box, t: Date.now() });
  };
  stage.addEventListener("pointerup", (event) => finish(event, true));
  stage.addEventListener("pointercancel", (event) => finish(event, false));

  root.appendChild(stage);
  root.appendChild(readout);
  return () => { root.innerHTML = ""; };
}
"""

_component = st.components.v2.component(NAME, html=HTML, css=CSS, js=JS)


def region_box(*, image_uri: str, width: int, height: int, box: Sequence[int] | None, key: str,
               on_draw: Callable[[], None], label: str, hint: str, display: int = 512) -> Any:
    """Mount the drawing surface for a ``width`` x ``height`` photo shown as ``image_uri`` (at most
    ``display`` px wide, less on a narrow screen). ``box``: the region to outline, in photo pixels,
    or None. ``label``: what a screen reader says about the picture; ``hint``: the line under it.

    ``on_draw`` runs (before the rerun) when a box has been dragged; read it with :func:`drawn_box`.
    """
    data = {
        "image": image_uri, "width": int(width), "height": int(height), "display": int(display),
        "box": None if box is None else [int(v) for v in box], "label": label, "hint": hint,
    }
    return _component(key=key, data=data, on_box_change=on_draw, width="stretch", height="content")


def drawn_box(key: str) -> tuple[int, int, int, int] | None:
    """The box (x0, y0, x1, y1 in photo pixels) of the drag that triggered the current callback."""
    value = trigger_value(key, "box", "box")
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        return None
    try:
        x0, y0, x1, y1 = (int(v) for v in value)
    except (TypeError, ValueError):
        return None
    return x0, y0, x1, y1
