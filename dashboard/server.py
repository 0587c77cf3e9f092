"""Saliency Lab dashboard: the server (``streamlit run dashboard/server.py``).

An ``st.App`` around the app's script (``dashboard/app.py``: the router, the sidebar, the pages)
whose only job is to start the background warm-up (``dashboard/common/warmup.py``) when the
server starts, not when the first reader's browser connects: that first page run comes ~1–1.5 s
later (the browser loads Streamlit's scripts first), and PyTorch's import alone takes ~1.5–3 s here,
which the Two models page used to wait for. The script still runs alone too (``streamlit run
dashboard/app.py``, the tests' AppTest): its first run starts the warm-up there instead.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # appended, as dashboard/app.py does: an installed saliency_core wins
    sys.path.append(str(ROOT))

from dashboard.common import memory, warmup  # noqa: E402 - light: no PyTorch, no pandas


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    memory.limit_arenas()  # before the warm-up thread starts (dashboard/common/memory.py)
    warmup.start()
    yield


app = st.App("app.py", lifespan=lifespan)
