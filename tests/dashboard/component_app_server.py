"""``streamlit run tests/dashboard/region_picker_app.py`` for the component browser tests
(``app_harness.start_server`` runs the whole dashboard; these tests need only the components)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from app_harness import REPO, _healthy, free_port, stop_server

SCRIPT = Path(__file__).resolve().parent / "region_picker_app.py"


def serve_components(timeout: float = 90) -> Iterator[str]:
    """Yield the base URL of the components' test app on a free localhost port, then stop it."""
    port = free_port()
    fd, name = tempfile.mkstemp(prefix="streamlit-components-", suffix=".log")
    os.close(fd)
    log = Path(name)
    cmd = [sys.executable, "-m", "streamlit", "run", str(SCRIPT), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the components' test app did not start:\n{tail}")
            time.sleep(0.25)
        yield url
    finally:
        stop_server(proc)
        log.unlink(missing_ok=True)
