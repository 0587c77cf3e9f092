"""`saliency-lab demo`: start the Streamlit dashboard (``streamlit run dashboard/server.py``)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

# The dashboard lives beside the package in a source checkout (it is not installed with it).
REPO = Path(__file__).resolve().parents[2]
APP = REPO / "dashboard" / "server.py"  # the app's script, served with the warm-up started at once


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="start the dashboard in the browser (Streamlit)")
    p.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    p.add_argument("--data", type=Path, default=None,
                   help="folder with the demo photos (sets SALIENCY_DATA for the app)")
    p.add_argument("--headless", action="store_true", help="do not open a browser window")
    p.set_defaults(func=run)


def command(args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(args.port),
           "--browser.gatherUsageStats", "false"]
    if args.headless:
        cmd += ["--server.headless", "true"]
    return cmd


def run(args: argparse.Namespace) -> int:
    if not APP.is_file():
        raise FileNotFoundError(f"{APP} not found: `saliency-lab demo` runs from a source checkout")
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be between 1 and 65535, got {args.port}")
    env = dict(os.environ)
    if args.data is not None:
        data = args.data.expanduser().resolve()
        if not data.is_dir():
            raise FileNotFoundError(f"--data: {data} is not a folder")
        env["SALIENCY_DATA"] = str(data)
    print(f"Saliency Lab dashboard on http://localhost:{args.port}  (Ctrl+C to stop)", flush=True)
    try:
        return subprocess.call(command(args), cwd=REPO, env=env)
    except KeyboardInterrupt:
        return 130
