"""The Dataset audit page: the demo report from its cache (fresh or stale), folder audits and
their bad input (regions, corrupt files, empty folders) as messages, never tracebacks."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from app_harness import errors, goto_page, no_browser_exception, screenshot, served, texts
from PIL import Image
from playwright.sync_api import expect
from story_pieces import Download, downloads  # noqa: F401 - downloads is a fixture

from dashboard.common.audit_cache import BUILTIN_SET, CACHE_DIR, KAGGLE_SET, load_report, report_fingerprint
from saliency_core.audit.report import TABLES
from saliency_core.data import BUILTIN_DIR

AUDIT = "views/dataset_audit.py"
REPORT_TABS = ("Global saliency", "Animal vs background", "Failure prediction", "Sanity checks",
               "Core vs spurious", "Counterfactual flips", "Table")


def open_tab(at: Any, tab: str) -> Any:
    """The report with ``tab`` open (only the open tab runs)."""
    at.session_state["audit_tab"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts_per_tab(at: Any) -> dict[str, int]:
    return {tab: len(open_tab(at, tab).get("plotly_chart")) for tab in REPORT_TABS}


def synthetic_report(folder: Path, fingerprint: str | None = None, photos: Path = BUILTIN_DIR) -> None:
    """A tiny report in the cache's format, stamped with the installed zoo's and ``photos``'
    fingerprint (``folder`` is the set's folder, e.g. ``<cache>/builtin``)."""
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
    (folder / "meta.json").write_text(json.dumps({"fingerprint": fingerprint or report_fingerprint(models, photos), "created": "test",
                                                  "models": models, "method": "gradient_squared"}))


# -------------------------------------------------------------------------------- the demo report
def test_audit_page_shows_its_charts_from_the_cache(app_test: Callable[..., Any], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    synthetic_report(tmp_path / "cache" / KAGGLE_SET)
    monkeypatch.setenv("SALIENCY_AUDIT_CACHE", str(tmp_path / "cache"))
    at = app_test(AUDIT, data=False)  # the cached report needs neither photos nor computing
    assert not at.exception, [e.value for e in at.exception]
    assert not at.progress  # nothing was recomputed
    assert "Precomputed report" in texts(at)
    assert len(at.tabs) == 7
    assert len(at.get("plotly_chart")) == 1  # only the open tab runs: global saliency
    # global saliency, (no pet tables in this report), response curve, sanity, core/spurious, flips
    assert charts_per_tab(at) == dict(zip(REPORT_TABS, (1, 0, 1, 1, 1, 1, 0)))
    assert any("pet masks are not available" in i.value for i in open_tab(at, "Animal vs background").info)


def test_a_closed_tabs_choice_is_kept(app_test: Callable[..., Any], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    synthetic_report(tmp_path / "cache" / KAGGLE_SET)
    monkeypatch.setenv("SALIENCY_AUDIT_CACHE", str(tmp_path / "cache"))
    at = app_test(AUDIT, data=False)
    at.segmented_control(key="audit_statistic").set_value("n").run()
    open_tab(at, "Counterfactual flips").segmented_control(key="audit_transform").set_value("hue shift 180°").run()
    assert open_tab(at, "Global saliency").segmented_control(key="audit_statistic").value == "n"
    assert open_tab(at, "Counterfactual flips").segmented_control(key="audit_transform").value == "hue shift 180°"
    assert not at.exception


def test_every_table_of_the_report_downloads_as_csv(app_test: Callable[..., Any], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    downloads: dict[str, Download]) -> None:
    synthetic_report(tmp_path / "cache" / KAGGLE_SET)
    monkeypatch.setenv("SALIENCY_AUDIT_CACHE", str(tmp_path / "cache"))
    at = app_test(AUDIT, data=False)
    assert not at.exception, [e.value for e in at.exception]
    charts_per_tab(at)  # each tab once: its downloads
    folder = tmp_path / "cache" / KAGGLE_SET
    for key, table in (("audit_global_csv", "global_saliency"), ("audit_aurrac_csv", "aurrac"),
                       ("audit_response_csv", "response_curve"), ("audit_sanity_csv", "sanity"),
                       ("audit_core_csv", "core_spurious"), ("audit_flips_csv", "counterfactual")):
        got = pd.read_csv(io.BytesIO(downloads[key].data))
        pd.testing.assert_frame_equal(got, pd.read_csv(folder / f"{table}.csv"), check_dtype=False, obj=key)
        assert downloads[key].file_name.endswith(".csv")
    summary = pd.read_csv(io.BytesIO(downloads["audit_summary_csv"].data))
    audit_rows = pd.read_csv(folder / "audit.csv")
    assert len(summary) == audit_rows.groupby(["model", "truth", "watermarked"]).ngroups == 6
    assert summary["n"].sum() == len(audit_rows)
    assert not any(key.startswith("audit_pet") for key in downloads)  # no pet tables in this report


def test_the_animal_tables_download_as_csv(app_test: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path, downloads: dict[str, Download]) -> None:
    loaded = load_report(CACHE_DIR / BUILTIN_SET) if (CACHE_DIR / BUILTIN_SET / "meta.json").is_file() else None
    if loaded is None:
        pytest.skip("no committed built-in report (the one with pet-mask tables)")
    monkeypatch.delenv("SALIENCY_DATA", raising=False)
    monkeypatch.setenv("SALIENCY_CACHE", str(tmp_path / "user-cache"))
    open_tab(app_test(AUDIT, data=BUILTIN_DIR), "Animal vs background")
    report = loaded[0]
    for key, table in (("audit_pet_csv", report.pet_saliency), ("audit_pet_core_csv", report.pet_core_spurious)):
        got = pd.read_csv(io.BytesIO(downloads[key].data))
        assert len(got) == len(table) > 0 and list(got.columns) == list(table.columns)


def test_stale_cache_is_shown_with_a_warning_not_recomputed(
        app_test: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zoo: bool) -> None:
    synthetic_report(tmp_path / "cache" / BUILTIN_SET, fingerprint="made-with-other-weights")
    monkeypatch.setenv("SALIENCY_AUDIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SALIENCY_DATA", raising=False)  # the built-in set, whose report is stale here
    at = app_test(AUDIT, data=BUILTIN_DIR)
    assert not at.exception
    assert any("other zoo weights" in w.value for w in at.warning)
    assert at.button(key="audit_recompute").label == "Recompute the report"
    assert sum(charts_per_tab(at).values()) == 5 and not at.progress


@pytest.mark.parametrize("name", [BUILTIN_SET, KAGGLE_SET])
def test_committed_demo_cache_is_readable(name: str) -> None:
    if not (CACHE_DIR / name / "meta.json").is_file():
        pytest.skip(f"no committed {name} report (run dashboard/data/build_demo_cache.py after training the zoo)")
    loaded = load_report(CACHE_DIR / name)
    assert loaded is not None
    report, meta = loaded
    tables = report.tables()
    assert set(tables) == set(TABLES) and meta["fingerprint"] and meta["photo_set"] == name
    assert {"colours", "normal"} <= set(tables["counterfactual"]["model"])
    assert tables["pet_saliency"].empty == (name == KAGGLE_SET)  # the masks: built-in photos only


def test_the_committed_built_in_report_is_fresh_and_shown_without_computing(
        app_test: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if not (CACHE_DIR / BUILTIN_SET / "meta.json").is_file():
        pytest.skip("no committed built-in report")
    monkeypatch.delenv("SALIENCY_DATA", raising=False)
    monkeypatch.setenv("SALIENCY_CACHE", str(tmp_path / "user-cache"))
    at = app_test(AUDIT, data=BUILTIN_DIR)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.progress and not at.warning  # fresh: nothing recomputed, no stale warning
    assert "Precomputed report" in texts(at)
    # the five, plus the animal's share and animal-as-core noise
    assert charts_per_tab(at) == dict(zip(REPORT_TABS, (1, 2, 1, 1, 1, 1, 0)))
    assert any("of its saliency on the animal" in m.value for m in open_tab(at, "Animal vs background").markdown)


def test_a_computed_report_is_saved_and_found_after_a_restart(
        app_test: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No stored report: the page computes one (progress bar) and saves it under SALIENCY_CACHE;
    a new server (caches cleared) shows it without computing."""
    import streamlit as st

    from dashboard.common.audit_cache import computed_dir, load_report
    from saliency_core.audit import report as report_module

    monkeypatch.setenv("SALIENCY_AUDIT_CACHE", str(tmp_path / "no-committed-report"))
    monkeypatch.setenv("SALIENCY_CACHE", str(tmp_path / "user-cache"))
    monkeypatch.setattr(report_module, "PER_CLASS", 2)  # a tiny report: 8 images
    original = report_module.demo_audit_data
    monkeypatch.setattr(report_module, "demo_audit_data", lambda root, per_class=2: original(root, 2))
    import dashboard.views  # noqa: F401 - the page module imports demo_audit_data by name at run time

    at = app_test(AUDIT, data=BUILTIN_DIR, timeout=300)
    assert not at.exception, [e.value for e in at.exception]
    saved = load_report(computed_dir() / BUILTIN_SET)
    assert saved is not None and saved[1]["images"] == 8 and saved[1]["photo_set"] == BUILTIN_SET
    st.cache_resource.clear()  # a restart: the in-memory store is gone
    again = app_test(AUDIT, data=BUILTIN_DIR)
    assert not again.exception and not again.progress
    assert "computed earlier on this server" in texts(again)


# ------------------------------------------------------------------------------ a folder's audit
def photo_folder(root: Path, corrupt: bool = True, good: int = 2) -> Path:
    for k, label in enumerate(("cat", "dog")):
        (root / label).mkdir(parents=True)
        for i in range(good):
            Image.fromarray(np.random.default_rng(10 * k + i).integers(0, 256, (80, 90, 3), dtype=np.uint8)
                            ).save(root / label / f"{label}.{i}.png")
    if corrupt:
        (root / "cat" / "broken.jpg").write_bytes(b"not a jpeg at all")
    return root


def run_folder_audit(app_test: Callable[..., Any], folder: Path, region: str = "") -> Any:
    at = app_test(AUDIT, state={"audit_source": "A folder on this server"})
    at.text_input(key="audit_folder").set_value(str(folder))
    at.text_input(key="audit_folder_box").set_value(region).run()
    at.button(key="audit_folder_run").click().run()
    return at


def test_audit_folder_that_does_not_exist(app_test: Callable[..., Any], zoo: bool) -> None:
    at = app_test(AUDIT, data=False, state={"audit_source": "A folder on this server",
                                            "audit_folder": "/no/such/folder"})
    at.button(key="audit_folder_run").click().run()
    assert not at.exception
    assert any("not a folder" in e.value for e in at.error)


@pytest.mark.parametrize("region", ["-50,-50,500,500", "200,200,300,300", "0,0,inf,inf", "0,0,nan,5", "1,2,3",
                                    "5,5,2,2"])
def test_a_region_outside_the_frame_is_an_error_not_a_crash(app_test: Callable[..., Any], zoo: bool,
                                                           tmp_path: Path, region: str) -> None:
    at = run_folder_audit(app_test, photo_folder(tmp_path / "set", corrupt=False), region)
    assert not at.exception
    assert any(region in m and "128×128 frame" in m for m in errors(at)), errors(at)


def test_corrupt_files_in_an_audited_folder_are_named_and_the_rest_audited(
        app_test: Callable[..., Any], zoo: bool, tmp_path: Path) -> None:
    at = run_folder_audit(app_test, photo_folder(tmp_path / "set"), "0,100,60,128")
    assert not at.exception
    assert any("broken.jpg" in w.value for w in at.warning), [w.value for w in at.warning]
    assert any("Audited 4 images" in s.value for s in at.success)


def test_a_folder_without_readable_images_is_an_error_not_a_crash(
        app_test: Callable[..., Any], zoo: bool, tmp_path: Path) -> None:
    at = run_folder_audit(app_test, photo_folder(tmp_path / "set", good=0))
    assert not at.exception
    assert any("no readable images" in m for m in errors(at)), errors(at)
    assert any("broken.jpg" in w.value for w in at.warning)


# ------------------------------------------------------------------------------ in the browser
@pytest.mark.e2e
def test_audit_page(streamlit_server: str, browser_page: Any) -> None:
    page = browser_page
    goto_page(page, streamlit_server, "dataset_audit")
    no_browser_exception(page)
    if (CACHE_DIR / "meta.json").is_file():
        expect(page.get_by_text("Precomputed report")).to_be_visible()
        expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
        for tab in ("Failure prediction", "Sanity checks", "Core vs spurious", "Counterfactual flips"):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(300)
        no_browser_exception(page)
        page.get_by_role("tab", name="Global saliency").click()
    screenshot(page, "dataset_audit-report")
    if (CACHE_DIR / "meta.json").is_file():
        page.get_by_role("tab", name="Counterfactual flips").click()
        page.wait_for_timeout(500)
        screenshot(page, "dataset_audit-flips")


# ------------------------------------------------------------------------------ a zip of your own
def builtin_zip(per_class: int = 3, masks: bool = True) -> tuple[bytes, dict[str, np.ndarray]]:
    """A zip of a few built-in photos in the class-folder layout, each with its pet as the mask
    (white where the Oxford trimap is not background); also the masks by image id."""
    import csv
    import io
    import zipfile

    rows = list(csv.DictReader((BUILTIN_DIR / "MANIFEST.csv").open()))
    buffer = io.BytesIO()
    pets: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(buffer, "w") as archive:
        for species in ("cat", "dog"):
            for row in [r for r in rows if r["species"] == species][:per_class]:
                name = Path(row["file"]).name
                archive.write(BUILTIN_DIR / row["file"], f"my-pets/{species}/{name}")
                pet = np.where(np.asarray(Image.open(BUILTIN_DIR / row["mask_file"])) == 2, 0, 255).astype(np.uint8)
                pets[f"{species}/{name}"] = pet
                if masks:
                    png = io.BytesIO()
                    Image.fromarray(pet).save(png, "PNG")
                    archive.writestr(f"my-pets/masks/{species}/{Path(name).stem}.png", png.getvalue())
        archive.writestr("my-pets/README.txt", "six pets")
    return buffer.getvalue(), pets


def upload_zip(app_test: Callable[..., Any], name: str, data: bytes) -> Any:
    at = app_test(AUDIT, data=False, state={"audit_source": "Upload a zip"})
    at.file_uploader(key="audit_zip").set_value((name, data, "application/zip")).run()
    return at


def test_a_zip_with_masks_is_audited_with_charts_and_downloads(app_test: Callable[..., Any], zoo: bool) -> None:
    import torch

    from saliency_core import explain
    from saliency_core.data.frame import frame_array, mask_frame
    from saliency_core.data.image_file import read_image
    from saliency_core.metrics import top_percent_share

    data, pets = builtin_zip()
    at = upload_zip(app_test, "pets.zip", data)
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "`masks/`" in shown and "1000 images" in shown and "50 MB" in shown  # the layout and limits stated
    assert "6 images in 2 classes: cat (3), dog (3); 6 mask(s); 1 other file(s) skipped" in shown
    at.multiselect(key="audit_folder_models").set_value(["normal", "colours"])
    at.button(key="audit_folder_run").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any("Audited 6 images with 2 model(s) (Normal, Colours" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) == 4  # share per class and per prediction, accuracy, flips
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Audit table (CSV)", "Audit table (Parquet)"]
    table = at.session_state["_audit_dataset_result"].table
    assert len(table) == 12 and set(table["model_title"]) == {"Normal", "Colours"}
    assert set(table["truth"]) == {"cat", "dog"} and {"flip_greyscale", "flip_hue shift 180°"} <= set(table.columns)
    # the share of one image, computed here from its photo, its mask and the model: the same number
    row = table[(table["model"] == "normal") & (table["id"] == "dog/" + Path(sorted(pets)[-1]).name)].iloc[0]
    image_id = row["id"]
    photo = read_image((BUILTIN_DIR / "images" / Path(image_id).name))
    image = torch.from_numpy(frame_array(photo)).permute(2, 0, 1).float().div(255)[None]
    mask = torch.from_numpy(mask_frame(pets[image_id]) > 127)[None]
    maps = explain(served("normal"), image, "gradient_squared").maps
    assert row["share"] == pytest.approx(float(top_percent_share(maps, mask, percent=0.5)[0]), abs=1e-5)
    # a rerun (e.g. another tab) shows the stored result without computing again
    at.run()
    assert len(at.get("plotly_chart")) == 4 and not at.progress


def test_a_zip_without_masks_says_there_is_no_region(app_test: Callable[..., Any], zoo: bool) -> None:
    data, _ = builtin_zip(per_class=1, masks=False)
    at = upload_zip(app_test, "pets.zip", data)
    at.button(key="audit_folder_run").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any("No region to measure" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 2  # accuracy and flips


def bad_zip(kind: str) -> bytes:
    import io
    import zipfile

    if kind == "not a zip":
        return b"GIF89a this is no zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        png = io.BytesIO()
        Image.new("RGB", (8, 8)).save(png, "PNG")
        members = {"traversal": {"cat/a.png": 1, "../../evil.png": 1},
                   "too many files": {f"cat/{i}.png": 1 for i in range(6)},
                   "no class folders": {"notes.txt": 1, "docs/readme.txt": 1},
                   "an image outside the class folders": {"cat/a.png": 1, "b.png": 1}}[kind]
        for name in members:
            archive.writestr(name, png.getvalue())
    return buffer.getvalue()


@pytest.mark.parametrize(("kind", "words"), [("traversal", "path traversal"), ("too many files", "more than 5 images"),
                                             ("not a zip", "not a zip archive"),
                                             ("no class folders", "no class folders"),
                                             ("an image outside the class folders", "b.png is not in a class folder")])
def test_a_bad_zip_is_one_line_naming_the_problem(app_test: Callable[..., Any], zoo: bool,
                                                  monkeypatch: pytest.MonkeyPatch, kind: str, words: str) -> None:
    from dashboard.common import dataset_upload
    from saliency_core.data.archive import Limits

    monkeypatch.setattr(dataset_upload, "LIMITS", Limits(images=5))
    at = upload_zip(app_test, "set.zip", bad_zip(kind))
    assert not at.exception, [e.value for e in at.exception]
    assert len(errors(at)) == 1 and "\n" not in errors(at)[0], errors(at)
    assert "`set.zip` cannot be audited" in errors(at)[0] and words in errors(at)[0]
    assert at.button(key="audit_folder_run").disabled


def test_the_unpacked_zip_lives_in_the_session_and_goes_with_it(app_test: Callable[..., Any], zoo: bool) -> None:
    first, _ = builtin_zip(per_class=1)
    at = upload_zip(app_test, "one.zip", first)
    root = at.session_state["_audit_zip_dataset"].root
    assert (root / "cat").is_dir() and (root / "masks" / "dog").is_dir()
    second, _ = builtin_zip(per_class=2)
    at.file_uploader(key="audit_zip").set_value(("two.zip", second, "application/zip")).run()
    assert not root.exists()  # replaced: the first folder is gone
    again = at.session_state["_audit_zip_dataset"].root
    at.file_uploader(key="audit_zip").set_value(None).run()
    assert not again.exists()  # removed by the user: so is its folder


def test_the_sessions_uploaded_model_audits_a_zip(app_test: Callable[..., Any], zoo: bool, tmp_path: Path) -> None:
    """The model uploaded on the Your-model page is offered here (its file name as title) and runs
    in its own process, next to a zoo model."""
    import torch
    from safetensors.torch import save_file

    from saliency_core.zoo.architecture import DemoCNN

    torch.manual_seed(0)
    save_file({k: v.contiguous() for k, v in DemoCNN().state_dict().items()}, tmp_path / "mine.safetensors")
    at = app_test("views/your_model.py", data=False, state={"ym_source": "Upload a model"})
    at.file_uploader(key="ym_model_file").set_value(
        ("mine.safetensors", (tmp_path / "mine.safetensors").read_bytes(), "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page(AUDIT)
    at.session_state["audit_source"] = "Upload a zip"
    at.run()
    at.file_uploader(key="audit_zip").set_value(("pets.zip", builtin_zip(per_class=2)[0], "application/zip")).run()
    models = at.multiselect(key="audit_folder_models")
    upload = next(o for o in models.options if "mine" in o)
    models.set_value(["normal", upload]).run()
    at.button(key="audit_folder_run").click().run()
    assert not at.exception and not errors(at), errors(at)
    table = at.session_state["_audit_dataset_result"].table
    assert set(table["model_title"]) == {"Normal", "mine.safetensors"} and len(table) == 8
    assert table["share"].notna().all() and set(table["prediction"]) <= {"cat", "dog"}
    assert len(at.get("plotly_chart")) == 4
