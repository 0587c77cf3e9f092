"""A fresh clone of this repository: what CI, a new developer and the hosted demo check out.

HEAD is cloned into a folder and the working tree's uncommitted (not ignored) files are laid over
it, deleted ones removed, so a check run before a commit sees what the commit will hold. Used by
``tools/deploy_check.py`` and the fresh-clone tests in ``tests/dashboard/``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def fresh_clone(target: Path) -> Path:
    """HEAD cloned into ``target`` with the working tree's uncommitted (not ignored) files over it."""
    head = git("rev-parse", "HEAD").strip()
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", f"file://{ROOT}", str(target)], check=True)
    git("checkout", "--quiet", head, cwd=target)
    for name in filter(None, git("ls-files", "--modified", "--others", "--exclude-standard", "-z").split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / name)
    for name in filter(None, git("ls-files", "--deleted", "-z").split("\0")):
        (target / name).unlink(missing_ok=True)
    return target
