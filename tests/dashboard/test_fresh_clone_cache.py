"""The committed Dataset-audit reports hold on a fresh clone: no page there reports a stale cache.

The repository is cloned (``git clone file://<root>``, then a checkout of the current HEAD) into a
temporary folder. Files of the working tree that are not committed yet (modified or new, not
ignored; deletions too) are laid over the clone, so that before the commit the test sees what the
commit will hold, and after it the overlay is empty. In that clone, with an empty
``SALIENCY_CACHE``, a subprocess (the clone's own code first on ``sys.path``) checks that each
committed report's ``meta.json`` fingerprint equals what the page computes there, and renders the
Dataset audit page with Streamlit's AppTest: the precomputed report, no stale warning, no progress
bar. The fingerprint hashes file contents only (weights, cards, the report's version, the set's
manifest), so paths and times of the clone must not matter.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from fresh_clone import fresh_clone  # noqa: E402 - tools/ holds the one clone helper

ROOT = Path(__file__).resolve().parents[2]
KAGGLE = ROOT.parent / "shared" / "data" / "cats-vs-dogs"

CHECK = textwrap.dedent('''
    import json, os, sys
    sys.path.insert(0, os.getcwd())
    import dashboard.common.audit_cache as cache
    assert cache.CACHE_DIR.resolve().is_relative_to(os.getcwd()), cache.CACHE_DIR   # the clone's own code
    import saliency_core.data as data
    from streamlit.testing.v1 import AppTest
    root = data.data_dir()
    name = cache.photo_set(root)
    meta = json.loads((cache.CACHE_DIR / name / "meta.json").read_text())
    computed = cache.report_fingerprint(cache.report_models(meta), root)
    at = AppTest.from_file("dashboard/app.py", default_timeout=120)
    at.run()
    at.switch_page("views/dataset_audit.py")
    at.run()
    texts = " ".join(str(getattr(e, "value", "")) for e in (*at.caption, *at.markdown, *at.info))
    print(json.dumps({"set": name, "stored": meta["fingerprint"], "computed": computed,
                      "exceptions": [str(e.value) for e in at.exception],
                      "warnings": [w.value for w in at.warning], "progress": len(at.get("progress")),
                      "precomputed": "Precomputed report" in texts}))
''')


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return fresh_clone(tmp_path_factory.mktemp("fresh") / "saliency-lab")


def check_in_clone(clone: Path, tmp_path: Path, data: Path | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SALIENCY_DATA", "SALIENCY_AUDIT_CACHE", "PYTHONPATH")}
    env["SALIENCY_CACHE"] = str(tmp_path / "empty-cache")  # nothing computed earlier can help
    if data is not None:
        env["SALIENCY_DATA"] = str(data)
    done = subprocess.run([sys.executable, "-c", CHECK], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_built_in_report_is_fresh_on_a_fresh_clone(clone: Path, tmp_path: Path) -> None:
    assert (clone / "dashboard/data/demo_audit/builtin/meta.json").is_file(), "no committed built-in report"
    result = check_in_clone(clone, tmp_path, None)
    assert result["set"] == "builtin"
    assert result["stored"] == result["computed"], result
    assert not result["exceptions"] and not result["warnings"] and not result["progress"], result
    assert result["precomputed"], result


@pytest.mark.slow
def test_the_kaggle_report_is_fresh_on_a_fresh_clone(clone: Path, tmp_path: Path) -> None:
    if not (KAGGLE / "MANIFEST.csv").is_file():
        pytest.skip(f"the cats-vs-dogs photos are not at {KAGGLE}")
    if not (clone / "dashboard/data/demo_audit/kaggle/meta.json").is_file():
        pytest.skip("no committed cats-vs-dogs report")
    result = check_in_clone(clone, tmp_path, KAGGLE)
    assert result["set"] == "kaggle"
    assert result["stored"] == result["computed"], result
    assert not result["exceptions"] and not result["warnings"] and not result["progress"], result


def test_the_fingerprint_ignores_paths_and_times(tmp_path: Path) -> None:
    """The same manifest in another folder, with another mtime, gives the same fingerprint."""
    from dashboard.common.audit_cache import report_fingerprint, set_digest

    a, b = tmp_path / "a", tmp_path / "b" / "deeper"
    for folder in (a, b):
        folder.mkdir(parents=True)
        (folder / "MANIFEST.csv").write_bytes(b"file,species,split\ncat/1.jpg,cat,test\n")
    os.utime(b / "MANIFEST.csv", (0, 0))
    assert set_digest(a) == set_digest(b)
    assert report_fingerprint(["normal"], a) == report_fingerprint(["normal"], b)
    (b / "MANIFEST.csv").write_bytes(b"file,species,split\ncat/2.jpg,cat,test\n")
    assert report_fingerprint(["normal"], a) != report_fingerprint(["normal"], b)
