"""The Your model & images page's model upload never runs code from the file (AppTest).

The crafted files are the ones of ``tests/zoo/test_model_safety.py``, which also proves that
plain torch does run each payload. A legitimate ``.pt2`` export (fixed or dynamic batch) uploads
and gives its maps.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from app_harness import errors, no_exception
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zoo"))  # the crafted files' builders
from test_model_safety import LOADS_WITHOUT_THE_PAYLOAD, PAYLOADS, classifier, crafted, export  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

YOUR_MODEL = "views/your_model.py"


def png(seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (100, 150, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(app_test: Callable[..., Any], model: Path) -> Any:
    """The page after uploading ``model`` and two images."""
    at = app_test(YOUR_MODEL, data=False, state={"ym_source": "Upload a model"})
    at.file_uploader(key="ym_model_file").set_value((model.name, model.read_bytes(), "application/octet-stream"))
    at.run()
    at.file_uploader(key="ym_images").set_value([("a.png", png(1), "image/png"), ("b.png", png(2), "image/png")])
    return at.run()


@pytest.mark.parametrize("name", PAYLOADS)
def test_an_uploaded_model_never_runs_the_payload(name: str, app_test: Callable[..., Any], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))  # where the tree_spec_import payload puts its module
    path, marker = crafted(name, tmp_path, export(classifier(), tmp_path / "base.pt2", size=8))
    at = upload(app_test, path)
    no_exception(at)
    assert not marker.exists()
    if name not in LOADS_WITHOUT_THE_PAYLOAD:
        assert any(m.startswith(f"**{path.name}** could not be loaded") and path.name in m.split(":", 1)[1]
                   for m in errors(at)), errors(at)


@pytest.mark.parametrize("dynamic", [False, True])
def test_an_uploaded_export_gives_maps(dynamic: bool, app_test: Callable[..., Any], tmp_path: Path) -> None:
    model = export(classifier(), tmp_path / "mine.pt2", size=128, batch=2 if dynamic else 1, dynamic=dynamic)
    at = upload(app_test, model)
    no_exception(at)
    assert not errors(at), errors(at)
    table = at.dataframe[0].value
    assert set(table["model"]) == {"mine"} and set(table["image"]) == {"a.png", "b.png"}
