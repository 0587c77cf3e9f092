"""The pages' tables shipped for the built-in photos (``dashboard/data/page_cache/builtin``) hold.

* Their numbers equal a fresh computation on a few rows (the page's own ``predict`` on the page's
  own demo set).
* Their fingerprint equals what the page computes, here and on a fresh clone (the clone approach of
  ``test_fresh_clone_cache.py``: HEAD plus the uncommitted files, an empty ``SALIENCY_CACHE``), so a
  fresh clone never serves stale numbers and never recomputes them either.
* A stale table (another fingerprint) is ignored: the page computes.
* The shipped results (``page_cache/builtin/results``: occlusion sweeps and maps, the lesson's
  grid, the Beyond tables, the Quadrants table) are what the pages read on an empty cache, here and on a
  fresh clone: no page computes one of their kinds; and they equal the library's computation.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "dashboard" / "data" / "page_cache" / "builtin"

CHECK = textwrap.dedent('''
    import json, os, sys
    sys.path.insert(0, os.getcwd())
    from streamlit.testing.v1 import AppTest
    builds = {}
    for page in ("views/occlusion.py", "views/beyond.py", "views/mystery.py", "views/quadrants.py"):
        at = AppTest.from_file("dashboard/app.py", default_timeout=600)
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, at.exception)
    from dashboard.common.diskcache import BUILDS, SHIPPED_KINDS
    builds = {kind: BUILDS[kind] for kind in SHIPPED_KINDS}
    import dashboard.common.diskcache as cache
    assert cache.PAGE_CACHE_DIR.resolve().is_relative_to(os.getcwd()), cache.PAGE_CACHE_DIR  # the clone's code
    from saliency_core.data.builtin import builtin_dir
    meta = json.loads((cache.PAGE_CACHE_DIR / "builtin" / "meta.json").read_text())
    ids = ("Abyssinian_2", "Abyssinian_2_wm")
    found = cache.shipped_probabilities("watermark-100", str(builtin_dir()), ids)
    print(json.dumps({"stored": meta["fingerprint"], "computed": cache.page_cache_fingerprint(builtin_dir()),
                      "used": found is not None, "builds": builds}))
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
    assert sum(f.stat().st_size for f in SHIPPED.iterdir() if f.is_file()) < 2 * 2**20


def test_shipped_predictions_match_a_fresh_computation() -> None:
    from dashboard.common.demo_sets import build_demo_set
    from dashboard.common.diskcache import (
        PAGE_CACHE_MODELS,
        PAGE_CACHE_PER_CLASS,
        shipped_probabilities,
    )
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
    assert not any(result["builds"].values()), result  # every default view read its results from the clone


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


RESULTS = SHIPPED / "results"


def test_the_shipped_results_are_small() -> None:
    assert 0 < sum(f.stat().st_size for f in RESULTS.iterdir()) < 4 * 2**20  # 3.6 MB of it: Quadrants' table


def test_the_default_views_read_the_shipped_results(app_test: Any, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """On an empty cache, Occlusion (every photo of its strip), Beyond, Mystery and Quadrants compute nothing
    of a shipped kind: their keys are the ones recorded (else the results are stale: rebuild them)."""
    _builtin_root()
    from app_harness import needs_zoo

    needs_zoo("normal", "watermark-100", "cages", "colours")
    from dashboard.common.demo_sets import build_demo_set
    from dashboard.common.diskcache import BUILDS, SHIPPED_KINDS

    monkeypatch.delenv("SALIENCY_DATA", raising=False)
    monkeypatch.setenv("SALIENCY_CACHE", str(tmp_path))
    before = {kind: BUILDS[kind] for kind in SHIPPED_KINDS}
    strip = build_demo_set(_builtin_root(), 3, "pairs", "pairs", 0).ids[:12]
    for page, state in [*[("views/occlusion.py", {"occlusion_image": i}) for i in strip[:2]],
                        ("views/beyond.py", {}), ("views/mystery.py", {}), ("views/quadrants.py", {})]:
        at = app_test(page, state=state, timeout=300)
        assert not at.exception, (page, at.exception)
    built = {kind: BUILDS[kind] - before[kind] for kind in SHIPPED_KINDS}
    assert not any(built.values()), (
        f"computed {built}: run `.venv/bin/python dashboard/data/build_demo_cache.py --what pages`")
    assert not (tmp_path / "dashboard").exists() or not [
        p for p in (tmp_path / "dashboard").iterdir() if p.name.rsplit("-", 1)[0] in SHIPPED_KINDS]


def test_shipped_occlusion_results_equal_the_library(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A shipped 6×6 sweep and fine map of the strip's second photo (the page's default) are what
    ``cell_occlusion`` and ``occlusion`` give now."""
    import torch
    from app_harness import needs_zoo

    needs_zoo("normal", "watermark-100")
    import saliency_core
    from dashboard.common.demo_sets import demo_set_at
    from dashboard.common.diskcache import cached_arrays
    from dashboard.common.models import load_zoo_model, model_fingerprint
    from dashboard.common.occlusion import grid

    monkeypatch.setenv("SALIENCY_CACHE", str(tmp_path))
    pairs = demo_set_at(_builtin_root(), 3, "pairs", "pairs").subset(list(range(12)))
    image_key = (*pairs.key, pairs.ids[1])
    image = pairs.images[1]

    def shipped_only() -> dict[str, np.ndarray]:
        raise AssertionError("not shipped")

    for name in ("normal", "watermark-100"):
        model = load_zoo_model(name)
        sweep = cached_arrays("occlusion-sweep", (name, model_fingerprint(name), image_key, grid(6).n, ()), shipped_only)
        fresh = saliency_core.cell_occlusion(model, image[None].contiguous(), 6)
        np.testing.assert_allclose(sweep["base"], fresh.base[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(sweep["cells"], fresh.cells[0].numpy(), atol=1e-5)
        fine = cached_arrays("occlusion-fine", (name, model_fingerprint(name), image_key, 16, 8), shipped_only)
        expected = saliency_core.occlusion(model, image[None].contiguous(), window=16, stride=8)[0]
        torch.testing.assert_close(torch.from_numpy(fine["map"]), expected, atol=1e-5, rtol=1e-4)


def test_the_shipped_quadrants_table_equals_the_library(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The shipped Quadrants table of the default model: its predictions and watermark shares of a
    few photos are what the model and ``top_percent_share`` give now."""
    import torch
    from app_harness import needs_zoo

    needs_zoo("watermark-100")
    from saliency_core import explain
    from saliency_core.metrics import top_percent_share
    from dashboard.common.demo_sets import demo_set_at
    from dashboard.common.diskcache import cached_frame
    from dashboard.common.models import load_zoo_model, model_fingerprint
    from dashboard.common.quadrant_table import N_PER_QUADRANT, PERCENT, RESULTS_VERSION

    monkeypatch.setenv("SALIENCY_CACHE", str(tmp_path))
    name = "watermark-100"
    demo = demo_set_at(_builtin_root(), N_PER_QUADRANT, "both", "both")

    def shipped_only() -> pd.DataFrame:
        raise AssertionError("not shipped")

    table = cached_frame("quadrants", (name, tuple(demo.key), model_fingerprint(name), RESULTS_VERSION), shipped_only)
    assert list(table["id"]) == list(demo.ids)
    rows = [0, 60, 120, 199]  # one per quadrant
    images = demo.images[rows].contiguous()
    model = load_zoo_model(name)
    with torch.inference_mode():
        probs = torch.softmax(model(images), dim=1)
    share = top_percent_share(explain(model, images, "gradient_squared").maps, demo.boxes[rows].long(), percent=PERCENT)
    np.testing.assert_allclose(table["share"].iloc[rows], share.numpy(), atol=1e-4)
    np.testing.assert_allclose(table["p_dog"].iloc[rows], probs[:, 1].numpy(), atol=1e-4)
