"""`make deploy-check`: install the app the way Streamlit Community Cloud does, start it, and open
every page in a real browser.

1. a fresh clone of the repository (HEAD, with the working tree's uncommitted files laid over it,
   as ``tests/dashboard/test_fresh_clone_cache.py`` does) in a temporary folder: what the host
   checks out;
2. a fresh virtual environment there, with ``requirements.txt`` installed by ``uv pip install``
   (``pip install uv`` first; plain pip when that fails), as the host does. One difference, forced
   by this machine: it cannot reach PyTorch's index, so the direct ``torch @ https://download.
   pytorch.org/...`` lines are replaced by ``torch==2.13.0`` (this machine's pip sources hold that
   CPU build; they are passed to uv as ``--find-links`` / ``--extra-index-url``);
3. ``streamlit run dashboard/server.py`` from that environment, headless, on a free port, with an
   empty ``SALIENCY_CACHE`` and no ``SALIENCY_DATA`` (the built-in photos);
4. Debian's chromium (Playwright, from this repository's venv) opens every page over the
   websocket, waits until the script has finished, and looks for Streamlit's exception element
   (``stException``) and error boxes; then a one-line verdict per page and the times.

Exit status 0 when every page rendered without an exception.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fresh_clone import fresh_clone  # tools/: the script's own folder is on sys.path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--mute-audio"]


def app_pages(where: Path) -> list[tuple[str, str]]:
    """(url path, title) of every page ``dashboard/app.py`` registers, in its order: read from its
    ``PAGES`` list (not imported: that would start Streamlit), the first being the default ("")."""
    tree = ast.parse((where / "dashboard" / "app.py").read_text())
    for node in ast.walk(tree):
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == "PAGES":
            rows = ast.literal_eval(node.value)
            return [("" if i == 0 else Path(path).stem, title) for i, (path, title, *_) in enumerate(rows)]
    raise SystemExit("dashboard/app.py has no PAGES list")


def local_requirements(text: str) -> str:
    """requirements.txt with PyTorch's direct wheel URLs replaced by ``torch==2.13.0`` (this
    machine cannot reach download.pytorch.org)."""
    lines = [line for line in text.splitlines() if not re.match(r"\s*torch\s*(@|==)", line)]
    return "torch==2.13.0\n" + "\n".join(lines) + "\n"


def pip_sources() -> tuple[list[str], list[str]]:
    """This machine's pip find-links and extra index URLs (pip config), to hand to uv."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    find, extra = [], []
    for line in out.splitlines():
        key, _, value = line.partition("=")
        value = value.strip().strip("'\"")
        if key.endswith("find-links"):
            find += value.split()
        elif key.endswith("extra-index-url"):
            extra += value.split()
    return sorted(set(find)), sorted(set(extra))


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, text=True, **kwargs)


def install(clone: Path, venv: Path, log: Path) -> str:
    """A fresh venv with requirements.txt installed; returns the installer used ("uv" or "pip")."""
    run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    requirements = clone / "requirements.deploy-check.txt"
    requirements.write_text(local_requirements((clone / "requirements.txt").read_text()))
    env = {**os.environ, "SALIENCY_CUDA": os.environ.get("SALIENCY_CUDA", "AUTO"), "CMAKE_BUILD_PARALLEL_LEVEL": "2"}
    with log.open("a") as out:
        if run([str(python), "-m", "pip", "install", "--quiet", "uv"], stdout=out, stderr=subprocess.STDOUT).returncode == 0:
            find, extra = pip_sources()
            cmd = [str(venv / "bin" / "uv"), "pip", "install", "--python", str(python), "-r", str(requirements)]
            for link in find:
                cmd += ["--find-links", link]
            for url in extra:
                cmd += ["--extra-index-url", url]
            if find or extra:
                # This machine's own mirrors (pip's config, not requirements.txt) hold older releases
                # of some packages: under uv's first-index default they would hide PyPI's (seen here:
                # "no version of streamlit==1.67.0"). The host has no such mirrors.
                cmd += ["--index-strategy", "unsafe-best-match"]
            if run(cmd, cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT).returncode == 0:
                return "uv"
            print("uv failed (see the log); falling back to pip, as the host does", flush=True)
        done = run([str(python), "-m", "pip", "install", "-r", str(requirements)], cwd=clone, env=env,
                   stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"install failed: see {log}")
    return "pip"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(python: Path, cwd: Path, env: dict[str, str], log: Path, timeout: float = 180) -> tuple[subprocess.Popen[bytes], str]:
    """``streamlit run dashboard/server.py`` headless on a free port; returns (process, base URL)."""
    import urllib.request

    port = free_port()
    cmd = [str(python), "-m", "streamlit", "run", "dashboard/server.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:  # noqa: S310 - localhost
                if r.read().decode().strip() == "ok":
                    return proc, url
        except OSError:
            pass
        time.sleep(0.25)
    stop_app(proc)
    raise SystemExit(f"streamlit did not start: {log.read_text(errors='replace')[-3000:]}")


def stop_app(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)  # the app's own process group (started with start_new_session)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def wait_for_app(page: Any, timeout: float = 180_000) -> None:
    """Connected, the script finished, no skeleton left (as tests/dashboard/app_harness.py waits)."""
    page.wait_for_selector("[data-testid='stAppViewContainer']", state="attached", timeout=timeout)
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", state="attached",
                           timeout=timeout)
    page.wait_for_timeout(250)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", state="attached",
                           timeout=timeout)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stSkeleton]').length === 0",
                           timeout=timeout)


def visit(page: Any, url: str, path: str) -> tuple[float, int, list[str]]:
    """Open one page; (seconds until rendered, number of stException elements, error texts)."""
    start = time.monotonic()
    page.goto(f"{url}/{path}", wait_until="domcontentloaded")
    wait_for_app(page)
    seconds = time.monotonic() - start
    exceptions = page.locator("[data-testid='stException']").count()
    errors = [t.strip()[:200] for t in page.locator("[data-testid='stAlertContentError']").all_inner_texts()]
    return seconds, exceptions, errors


def browser() -> tuple[Any, Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("Debian's chromium is not installed (`make browser`)")
    pw = sync_playwright().start()
    return pw, pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    began = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="deploy-check-"))
    log = tmp / "install.log"
    ok = False
    try:
        clone = fresh_clone(tmp / "repo")
        t0 = time.monotonic()
        installer = install(clone, tmp / "venv", log)
        install_s = time.monotonic() - t0
        python = tmp / "venv" / "bin" / "python"
        freeze = run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True).stdout
        versions = {k.lower(): v for k, _, v in (line.partition("==") for line in freeze.splitlines())}
        backend = run([str(python), "-c", "import saliency_core as sc; print(sc.backend())"], cwd=tmp,
                      capture_output=True).stdout.strip()
        env = {k: v for k, v in os.environ.items() if k not in ("SALIENCY_DATA", "SALIENCY_AUDIT_CACHE", "PYTHONPATH")}
        env["SALIENCY_CACHE"] = str(tmp / "cache")
        t0 = time.monotonic()
        proc, url = start_app(python, clone, env, tmp / "app.log")
        start_s = time.monotonic() - t0
        rows = []
        try:
            pw, chromium = browser()
            try:
                page = chromium.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                for path, title in app_pages(clone):
                    rows.append((title, *visit(page, url, path)))
            finally:
                chromium.close()
                pw.stop()
        finally:
            stop_app(proc)
        print()
        print(f"installer: {installer} ({install_s:.0f} s); torch {versions.get('torch', '?')}, streamlit "
              f"{versions.get('streamlit', '?')}, saliency-lab {versions.get('saliency-lab', '?')}; "
              f"kernels: {backend or '?'}; app healthy after {start_s:.1f} s")
        print(f"{'page':<22} {'seconds':>8}  {'exceptions':>10}  errors")
        for title, seconds, exceptions, errors in rows:
            print(f"{title:<22} {seconds:8.1f}  {exceptions:10d}  {'; '.join(errors) or '-'}")
        ok = all(exceptions == 0 and not errors for _, _, exceptions, errors in rows)
        print(f"\n{'PASS' if ok else 'FAIL'}: {sum(1 for r in rows if r[2] == 0 and not r[3])}/{len(rows)} pages "
              f"without an exception or error, {time.monotonic() - began:.0f} s in all")
    finally:
        if args.keep or not ok:
            print(f"kept {tmp} (logs: install.log, app.log)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
