"""A tiny app for the component browser tests: ``?show=picker`` (default) or ``?show=grid``.

picker: the region picker on a 300x200 synthetic photo with a "pet" mask; the result is printed as
``RESULT source=... box=... frame=...``. grid: the occlusion grid (6x6, two stand-in models); the
Python side prints the cells it has received as ``HIDDEN [..]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import streamlit as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from dashboard.common.region_picker import box_text, region_picker  # noqa: E402
from dashboard.common.render import data_uri  # noqa: E402
from dashboard.components.occlusion_grid import clicked_cell, occlusion_grid  # noqa: E402

WIDTH, HEIGHT = 300, 200
N = 6


def photo() -> np.ndarray:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.stack([xs * 255 // WIDTH, ys * 255 // HEIGHT, np.full_like(xs, 128)], axis=2).astype(np.uint8)


def pet_mask() -> np.ndarray:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    return ((xs - 150) / 60.0) ** 2 + ((ys - 100) / 40.0) ** 2 <= 1


def toggle() -> None:
    cell = clicked_cell("grid")
    if cell is not None:
        st.session_state["cells"] = sorted(set(st.session_state.get("cells", [])) ^ {cell})


if st.query_params.get("show", "picker") == "grid":
    cells = st.session_state.setdefault("cells", [])
    edges = [round(i * 128 / N) for i in range(N + 1)]
    image = np.full((384, 384, 3), 170, np.uint8)
    occlusion_grid(image_uri=data_uri(image), n=N, edges=edges, size=128, occluded=cells, key="grid",
                   on_toggle=toggle,
                   models=[{"name": "a", "title": "Model A", "base": 0.3, "hover": [k / (N * N) for k in range(N * N)]},
                           {"name": "b", "title": "Model B", "base": 0.8, "hover": [0.5] * (N * N)}])
    st.code(f"HIDDEN {cells}")
else:
    choice = region_picker(photo(), key="rp", masks={"pet": pet_mask()})
    if choice is None:
        st.code("RESULT none")
    else:
        st.code(f"RESULT source={choice.source} box={box_text(choice.box)} frame={box_text(choice.frame_box())}")
