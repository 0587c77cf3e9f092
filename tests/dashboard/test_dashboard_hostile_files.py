"""Hostile and careless files on the dashboard: the Dataset audit page's folder audit and the Your
model page's image uploads (Streamlit AppTest). Nothing hangs (a named pipe, a device or a socket
in the folder is never opened), nothing is a traceback, every bad file is named.

The corpus is generated at test time (``tests/hostile_corpus.py``). Named ``..._dashboard_...``
beside ``tests/data/test_hostile_files.py``: test modules must have distinct basenames here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from app_harness import errors
from hostile_corpus import Case, good_png, make_corpus

pytestmark = pytest.mark.timeout(180)

AUDIT = "views/dataset_audit.py"
YOUR_MODEL = "views/your_model.py"


def _audit_folder(app_test: Callable[..., Any], folder: Path) -> Any:
    at = app_test(AUDIT, state={"audit_source": "A folder on this server"})
    at.text_input(key="audit_folder").set_value(str(folder)).run()
    at.button(key="audit_folder_run").click().run()
    return at


@pytest.fixture
def hostile_folder(tmp_path: Path) -> tuple[Path, list[Case]]:
    root = tmp_path / "set"
    for k, label in enumerate(("cat", "dog")):
        for i in range(2):
            good_png(root / label / f"{label}.{i}.png", seed=10 * k + i, size=(90, 80))
    return root, make_corpus(root / "cat")


def test_folder_audit_skips_pipes_devices_and_bad_files_and_audits_the_rest(
        app_test: Callable[..., Any], zoo: bool, hostile_folder: tuple[Path, list[Case]]) -> None:
    root, cases = hostile_folder
    at = _audit_folder(app_test, root)  # a regression that opens the pipe blocks here: the timeout fails it
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning]
    assert any(f"Skipped {len(cases)} " in w for w in warnings), warnings
    assert any("Audited 4 images" in s.value for s in at.success), [s.value for s in at.success]


def test_folder_audit_names_each_skipped_file_with_its_reason_on_one_line(
        app_test: Callable[..., Any], zoo: bool, hostile_folder: tuple[Path, list[Case]]) -> None:
    root, cases = hostile_folder
    at = _audit_folder(app_test, root)
    shown = "\n".join([*(w.value for w in at.warning), *(c.value for c in at.code)])
    for case in cases:
        assert f"cat/{case.shown}: " in shown and case.reason in shown, case.path.name
    assert "\x1b" not in shown and "bad\nname" not in shown


def test_a_folder_of_only_pipes_and_devices_is_an_error_not_a_hang(
        app_test: Callable[..., Any], zoo: bool, tmp_path: Path) -> None:
    root = tmp_path / "set"
    special = [c for c in make_corpus(root / "cat") if c.special]
    (root / "dog").mkdir()
    for case in make_corpus(root / "cat", special=False):
        case.path.unlink()  # keep only the special files
    assert special
    at = _audit_folder(app_test, root)
    assert not at.exception
    assert any("no readable images" in m for m in errors(at)), errors(at)


# Uploads arrive as bytes (no pipes or devices), but every other hostile file can be uploaded.
UPLOADED = ("empty.jpg", "truncated.jpg", "drawing.png", "page.jpg", "pixel-bomb.png", "ztxt-bomb.png",
            "itxt-bomb.png", "animated.webp", "animated.png", "pages.tiff", "strip-tall.png")


def test_each_hostile_upload_gets_an_error_naming_it_and_why_and_the_good_one_runs(
        app_test: Callable[..., Any], zoo: bool, tmp_path: Path) -> None:
    cases = {c.path.name: c for c in make_corpus(tmp_path / "bad", special=False)}
    good = good_png(tmp_path / "good.png", size=(150, 100))
    files = [(name, cases[name].path.read_bytes(), "application/octet-stream") for name in UPLOADED]
    at = app_test(YOUR_MODEL, data=False)
    at.file_uploader(key="ym_images").set_value([*files, ("good.png", good.read_bytes(), "image/png")]).run()
    assert not at.exception, [e.value for e in at.exception]
    messages = errors(at)
    for name in UPLOADED:
        said = [m for m in messages if name in m]
        assert len(said) == 1 and cases[name].reason in said[0], (name, messages)
    assert list(at.dataframe[0].value["image"].unique()) == ["good.png"]
