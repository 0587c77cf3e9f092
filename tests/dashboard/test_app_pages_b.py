"""AppTest of pages 5-7: Mystery models, Your model & images, Dataset audit.

When the trained zoo is not loadable (weights not installed), ``zoo`` stands in seeded random
``DemoCNN``s for it, so the page logic is tested either way; the numbers are not the point here.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from _dashboard_helpers import texts
from PIL import Image

MYSTERY = "views/mystery.py"
YOUR_MODEL = "views/your_model.py"
AUDIT = "views/dataset_audit.py"


@pytest.fixture
def zoo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real zoo when all its models load, else seeded random DemoCNNs under the zoo's names."""
    import dashboard.common as common
    import dashboard.common.models as models

    names = ["normal", "watermark-25", "watermark-50", "watermark-75", "watermark-100", "cages", "colours"]
    try:
        from saliency_core import zoo as real

        for name in names:
            real.load(name)
        return
    except Exception:  # noqa: BLE001 - (some) weights not trained/installed here
        pass
    from saliency_core.zoo.architecture import DemoCNN

    cache: dict[str, torch.nn.Module] = {}

    def fake_load(name: str) -> torch.nn.Module:
        if name not in cache:
            torch.manual_seed(sum(map(ord, name)))
            cache[name] = DemoCNN(width=8).eval()
        return cache[name]

    for module in (common, models):
        monkeypatch.setattr(module, "load_zoo_model", fake_load)
        monkeypatch.setattr(module, "zoo_names", lambda: list(names))


def png(width: int = 150, height: int = 100, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------- mystery
def test_mystery_reveal_sets_the_spoiler(app_test: Callable[..., Any], needs_data: Path, zoo: None) -> None:
    at = app_test(MYSTERY)
    assert not at.exception
    order = at.session_state["mystery_order"]
    assert sorted(order) == ["cages", "colours", "normal"]
    assert [b.label for b in at.button if b.key and b.key.startswith("mystery_reveal_")] == [
        "Mystery model 1", "Mystery model 2", "Mystery model 3"]
    assert len(at.image) == 16  # 4 inputs + 3 models x 4 maps
    assert not at.main.success  # nothing revealed yet

    colours_column = order.index("colours") + 1
    at.button(key=f"mystery_reveal_{colours_column}").click().run()
    assert not at.exception
    assert at.session_state["mystery_revealed"] == ["colours"]
    spoiler = at.main.success[0].value
    assert spoiler.startswith(f"**Mystery model {colours_column} is the colour detector.**")
    assert "counterfactual" in spoiler

    at.button(key="mystery_shuffle").click().run()
    assert at.session_state["mystery_batch"] == 1
    assert at.session_state["mystery_revealed"] == ["colours"]  # reveals survive a shuffle
    at.segmented_control(key="mystery_method").set_value("Gradient squared").run()
    assert not at.exception
    at.button(key="mystery_hide").click().run()
    assert at.session_state["mystery_revealed"] == [] and not at.main.success


def test_mystery_without_data_says_how_to_get_it(app_test: Callable[..., Any]) -> None:
    at = app_test(MYSTERY, data=False)
    assert not at.exception
    assert "SALIENCY_DATA" in texts(at)


# ---------------------------------------------------------------------------------- your model
def test_upload_shows_maps_and_results_table(app_test: Callable[..., Any], zoo: None) -> None:
    at = app_test(YOUR_MODEL, data=False)  # works without a data directory
    assert not at.exception
    at.file_uploader(key="ym_images").set_value(("kitten.png", png(), "image/png")).run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["image"].unique()) == ["kitten.png"]
    assert set(table["method"]) == {"gradient_squared", "vanilla_gradient"}
    assert table["share_top_0.5%_in_box"].between(0, 1).all()
    # thumbnail + box preview + input + one map per model x method
    assert len(at.image) == 3 + len(table)
    assert {b.label for b in at.get("download_button")} >= {"Results table (CSV)", "This map (PNG)"}


def test_bad_uploads_get_an_error_each_and_good_ones_still_run(app_test: Callable[..., Any], zoo: None) -> None:
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "blue")]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    at = app_test(YOUR_MODEL, data=False)
    at.file_uploader(key="ym_images").set_value([
        ("broken.png", b"\x89PNG\r\n\x1a\n this is not an image", "image/png"),
        ("good.png", png(seed=1), "image/png"),
        ("animated.gif", gif.getvalue(), "image/gif"),
    ]).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 2
    assert "broken.png" in errors[0] and "animated.gif" in errors[1] and "frame" in errors[1]
    assert list(at.dataframe[0].value["image"].unique()) == ["good.png"]


def test_empty_box_is_an_error_not_a_crash(app_test: Callable[..., Any], zoo: None) -> None:
    at = app_test(YOUR_MODEL, data=False, state={"ym_x1": 0})
    at.file_uploader(key="ym_images").set_value(("a.png", png(), "image/png")).run()
    assert not at.exception
    assert any("box is empty" in e.value for e in at.error)
    assert at.dataframe[0].value["share_top_0.5%_in_box"].isna().all()


def test_uploaded_safetensors_model(app_test: Callable[..., Any], tmp_path: Path) -> None:
    """A user's weights + architecture name, loaded by saliency_core.load_model (never unpickled)."""
    pytest.importorskip("safetensors")
    import saliency_core

    if not hasattr(saliency_core.zoo, "load_model"):
        pytest.skip("saliency_core.load_model is not available yet")
    from safetensors.torch import save_file

    from saliency_core.zoo.architecture import DemoCNN

    torch.manual_seed(0)
    state = {k: v.contiguous() for k, v in DemoCNN().state_dict().items()}
    save_file(state, tmp_path / "mine.safetensors")
    at = app_test(YOUR_MODEL, data=False, state={"ym_source": "Upload a model"})
    at.file_uploader(key="ym_model_file").set_value(
        ("mine.safetensors", (tmp_path / "mine.safetensors").read_bytes(), "application/octet-stream"))
    at.run()
    at.file_uploader(key="ym_images").set_value(("a.png", png(), "image/png")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert set(at.dataframe[0].value["model"]) == {"mine"}
    at.text_input(key="ym_classes").set_value("ant, bee, cow").run()  # 3 names for 2-class weights
    assert not at.exception
    assert any("mine.safetensors" in e.value for e in at.error)


def test_garbage_model_file_is_refused_with_an_error(app_test: Callable[..., Any]) -> None:
    at = app_test(YOUR_MODEL, data=False, state={"ym_source": "Upload a model"})
    at.file_uploader(key="ym_model_file").set_value(("evil.pt", b"not a model at all", "application/octet-stream"))
    at.run()
    assert not at.exception
    assert any("evil.pt" in e.value for e in at.error)


# -------------------------------------------------------------------------------- dataset audit
def synthetic_report(folder: Path, fingerprint: str | None = None) -> None:
    """A tiny report in the cache's format, stamped with the installed zoo's fingerprint."""
    from dashboard.views._b_helpers import zoo_fingerprint

    models = ["normal", "watermark-100", "colours"]
    rows = [{"id": f"{c}{i}|watermark", "model": m, "method": "gradient_squared", "truth": t,
             "prediction": t, "confidence": 0.9, "share": 0.1 * i, "m": 0.01, "n": 0.1,
             "watermarked": True, "correct": True}
            for m in models for t, c in ((0, "cat"), (1, "dog")) for i in range(3)]
    tables = {
        "audit": pd.DataFrame(rows),
        "global_saliency": pd.DataFrame([{"class": c, "n": 3, "mean": 0.2, "ci_low": 0.1, "ci_high": 0.3,
                                          "model": m, "statistic": s}
                                         for m in models for c in ("cat", "dog") for s in ("share", "n", "m")]),
        "response_curve": pd.DataFrame([{"model": m, "threshold": t, "response_rate": (t + 1) / 3,
                                         "accuracy": 1 - t / 10} for m in models for t in range(3)]),
        "aurrac": pd.DataFrame([{"model": m, "aurrac": 0.9, "accuracy": 0.8} for m in models]),
        "sanity": pd.DataFrame([{"test": "cascading", "step": k, "layer": layer, "spearman": 1 - k / 3,
                                 "spearman_abs": 1 - k / 4, "ssim": 0.5, "hog": 0.4}
                                for k, layer in enumerate(("fc", "layer4.conv2", "stem.0"))]),
        "core_spurious": pd.DataFrame([{"sigma": s, "region": r, "accuracy": 0.9 - s / 2, "n": 6, "model": m}
                                       for m in models for s in (0.0, 0.4) for r in ("spurious", "core")]),
        "counterfactual": pd.DataFrame([{"class": c, "n": 3, "flips": 1, "rate": 1 / 3, "ci_low": 0.06,
                                         "ci_high": 0.79, "model": m, "transform": t}
                                        for m in models for c in ("cat", "dog") for t in ("greyscale", "hue shift 180°")]),
    }
    folder.mkdir(parents=True)
    for name, table in tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)
    (folder / "meta.json").write_text(json.dumps({"fingerprint": fingerprint or zoo_fingerprint(models), "created": "test",
                                                  "models": models, "method": "gradient_squared"}))


def test_audit_page_shows_its_charts_from_the_cache(app_test: Callable[..., Any], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    synthetic_report(tmp_path / "cache")
    monkeypatch.setenv("SALIENCY_AUDIT_CACHE", str(tmp_path / "cache"))
    at = app_test(AUDIT, data=False)  # the cached report needs neither photos nor computing
    assert not at.exception, [e.value for e in at.exception]
    assert not at.progress  # nothing was recomputed
    assert "Precomputed report" in texts(at)
    assert len(at.get("plotly_chart")) == 5  # global saliency, response curve, sanity, core/spurious, flips
    assert len(at.tabs) == 6
    at.segmented_control(key="audit_transform").set_value("hue shift 180°").run()
    at.segmented_control(key="audit_statistic").set_value("n").run()
    assert not at.exception


def test_stale_cache_is_shown_with_a_warning_not_recomputed(
        app_test: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zoo: None) -> None:
    synthetic_report(tmp_path / "cache", fingerprint="made-with-other-weights")
    monkeypatch.setenv("SALIENCY_AUDIT_CACHE", str(tmp_path / "cache"))
    at = app_test(AUDIT)
    assert not at.exception
    assert any("other zoo weights" in w.value for w in at.warning)
    assert at.button(key="audit_recompute").label == "Recompute the report"
    assert len(at.get("plotly_chart")) == 5 and not at.progress


def test_committed_demo_cache_is_readable() -> None:
    from dashboard.views._b_helpers import CACHE_DIR, TABLES, load_report

    if not (CACHE_DIR / "meta.json").is_file():
        pytest.skip("no committed demo report (run dashboard/data/build_demo_cache.py after training the zoo)")
    loaded = load_report(CACHE_DIR)
    assert loaded is not None
    tables, meta = loaded
    assert set(tables) == set(TABLES) and meta["fingerprint"]
    assert {"colours", "normal"} <= set(tables["counterfactual"]["model"])


def test_audit_folder_that_does_not_exist(app_test: Callable[..., Any], zoo: None) -> None:
    at = app_test(AUDIT, data=False, state={"audit_source": "A folder on this server",
                                            "audit_folder": "/no/such/folder"})
    at.button(key="audit_folder_run").click().run()
    assert not at.exception
    assert any("not a folder" in e.value for e in at.error)
