"""Saliency Lab dashboard: the app's script, served by ``dashboard/server.py`` (``make demo``, the host).

It is the router and the picture frame: page config, the shared sidebar (data status, kernel
backend) and ``st.navigation`` over one module per page in ``dashboard/views/``. It runs alone too
(``streamlit run dashboard/app.py``, the tests' AppTest): then its first run starts the warm-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# So pages can `from dashboard.common import ...`; appended, not prepended, so an installed
# saliency_core (with its compiled extension) wins over the source tree on a host that ran `pip install .`.
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from dashboard.common import memory, sidebar, story, warmup  # noqa: E402

# (file under dashboard/, title, icon) in the explorable's order, then beyond it.
PAGES: list[tuple[str, str, str]] = [
    ("views/introduction.py", "Introduction", ":material/menu_book:"),
    ("views/two_models.py", "Two models", ":material/compare:"),
    ("views/occlusion.py", "Occlusion", ":material/grid_on:"),
    ("views/gradients.py", "Gradients", ":material/gradient:"),
    ("views/quadrants.py", "Quadrants", ":material/scatter_plot:"),
    ("views/mystery.py", "Mystery models", ":material/help:"),
    ("views/beyond.py", "Beyond simple saliency", ":material/explore:"),
    ("views/dataset_audit.py", "Dataset audit", ":material/fact_check:"),
    ("views/your_model.py", "Your model & images", ":material/upload:"),
]

st.set_page_config(page_title="Saliency Lab", page_icon=":material/visibility:", layout="wide")
memory.limit_arenas()  # once per server, before the warm-up thread starts (dashboard/common/memory.py)
warmup.start()  # once per server: loads what the story needs while the reader reads the first page

pages = [st.Page(path, title=title, icon=icon, default=(i == 0)) for i, (path, title, icon) in enumerate(PAGES)]
page = st.navigation(pages, position="sidebar")
sidebar.render()
page.run()
# The story's "Next" link at the foot of the page just run (not reached when the page stopped early).
files = {p.url_path: path for p, (path, _, _) in zip(pages, PAGES)}
story.next_link(files[page.url_path])
memory.trim()
