"""The pages' tables shipped for the built-in photos (``dashboard/data/page_cache/builtin``) hold.

* Their numbers equal a fresh computation on a few rows (the page's own ``predict`` on the page's
  own demo set).
* Their fingerprint equals what the page computes, here and on a fresh clone (the clone approach of
  ``test_fresh_clone_cache.py``: HEAD plus the uncommitted files, an empty ``SALIENCY_CACHE``), so a
  fresh clone never serves stale numbers and never recomputes them either.
* A stale table (another fingerprint) is ignored: the page computes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "dashboard" / "data" / "page_cache" / "builtin"

CHECK = textwrap.dedent('''
    import json, os, sys
    sys.path.insert(0, os.getcwd())
    import dashboard.common.diskcache as cache
    assert cache.PAGE_CACHE_DIR.resolve().is_relative_to(os.getcwd()), cache.PAGE_CACHE_DIR  # the clone's code
    from saliency_core.data.builtin import builtin_dir
    meta = json.loads((cache.PAGE_CACHE_DIR / "builtin" / "meta.json").read_text())
    ids = ("Abyssinian_2", "Abyssinian_2_wm")
    found = cache.shipped_probabilities("watermark-100", str(builtin_dir()), ids)
    print(json.dumps({"stored": meta["fingerprint"], "computed": cache.page_cache_fingerprint(builtin_dir()),
                      "used": found is not None}))
''')


def _builtin_root() -> str:
    from saliency_core.data.builtin import builtin_dir

    root = builtin_dir()
    if not (root / "MANIFEST.csv").is_file():
        pytest.skip("the built-in photos are not installed")
    return str(root)


def test_the_shipped_fingerprint_is_what_the_page_computes() -> None:
    from dashboard.common.diskcache import page_cache_fingerprint

    meta = json.loads((SHIPPED / "meta.json").read_text())
    assert meta["fingerprint"] == page_cache_fingerprint(_builtin_root()), (
        "stale: run `.venv/bin/python dashboard/data/build_demo_cache.py --what pages`")


def test_the_shipped_tables_are_small() -> None:
    assert sum(f.stat().st_size for f in SHIPPED.iterdir()) < 2 * 2**20


def test_shipped_predictions_match_a_fresh_computation() -> None:
    from dashboard.common.demo_sets import build_demo_set
    from dashboard.common.diskcache import PAGE_CACHE_MODELS, PAGE_CACHE_PER_CLASS, shipped_probabilities
    from dashboard.common.models import predict, zoo_names

    root = _builtin_root()
    demo = build_demo_set(root, PAGE_CACHE_PER_CLASS, "both", "both", 0)
    rows = [0, 1, len(demo) // 2, len(demo) - 1]  # cats and dogs, with and without the mark
    sample = demo.subset(rows)
    table = pd.read_csv(SHIPPED / "predictions.csv")
    for name in (m for m in PAGE_CACHE_MODELS if m in zoo_names()):
        assert set(table.loc[table["model"] == name, "id"]) == set(demo.ids), name
        fresh = predict(name, sample.images).numpy()
        shipped = shipped_probabilities(name, root, sample.ids)
        assert shipped is not None, name
        np.testing.assert_allclose(shipped, fresh, atol=1e-5, err_msg=name)


def test_a_stale_table_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dashboard.common.diskcache as cache

    root = _builtin_root()
    folder = tmp_path / "builtin"
    shutil.copytree(SHIPPED, folder)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "fingerprint": "0" * 16}))
    monkeypatch.setattr(cache, "PAGE_CACHE_DIR", tmp_path)
    cache._shipped.cache_clear()
    try:
        assert cache.shipped_probabilities("normal", root, ("Abyssinian_2",)) is None
    finally:
        cache._shipped.cache_clear()


@pytest.mark.slow
def test_the_shipped_tables_are_fresh_on_a_fresh_clone(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    sys.path.insert(0, str(ROOT / "tools"))
    from fresh_clone import fresh_clone  # tools/: the one clone helper

    clone = fresh_clone(tmp_path / "saliency-lab")
    env = {k: v for k, v in os.environ.items() if k not in ("SALIENCY_DATA", "SALIENCY_AUDIT_CACHE", "PYTHONPATH")}
    env["SALIENCY_CACHE"] = str(tmp_path / "empty-cache")
    done = subprocess.run([sys.executable, "-c", CHECK], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["stored"] == result["computed"], result
    assert result["used"], result


@pytest.mark.parametrize("args", [(50, "both", "both", 0), (25, "yes", "no", 0), (3, "pairs", "pairs", 0),
                                  (4, "yes", "yes", 7)])
def test_a_demo_set_from_part_of_the_built_in_photos_equals_the_full_one(
        args: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoding only the photos a set needs (a fresh server's first visit) changes nothing."""
    import torch

    import dashboard.common.demo_sets as demo_sets

    root = _builtin_root()
    part = demo_sets.build_demo_set(root, *args)
    monkeypatch.setattr(demo_sets, "_builtin_part", lambda *_: None)  # every photo decoded
    full = demo_sets.build_demo_set(root, *args)
    assert (part.key, part.ids, part.labels, part.watermarked) == (full.key, full.ids, full.labels, full.watermarked)
    for name in ("images", "boxes", "masks", "pet_masks"):
        assert torch.equal(getattr(part, name), getattr(full, name)), name
