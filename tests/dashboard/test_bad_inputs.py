"""Bad or odd input never shows a traceback: each problem is a message naming it, and the good
inputs beside it still run (pages 2, 6 and 7 driven with AppTest)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _dashboard_helpers import texts
from PIL import Image
from test_app_pages_b import png, zoo  # noqa: F401 - ``zoo`` is a fixture used by name

YOUR_MODEL = "views/your_model.py"
AUDIT = "views/dataset_audit.py"
OCCLUSION = "views/occlusion.py"


def errors(at: Any) -> list[str]:
    return [str(e.value) for e in at.error]


# ------------------------------------------------------------------------------ helper functions
def test_plain_error_drops_torchscript_traceback_text_but_keeps_the_cause() -> None:
    from dashboard.views._b_helpers import plain_error

    error = ValueError("the model failed: The following operation failed.\nTraceback of TorchScript "
                       "(most recent call last):\n  File \"x.py\", line 4, in forward\n    ~~~ <--- HERE\n"
                       "RuntimeError: mat1 and mat2 shapes cannot be multiplied\n")
    text = plain_error(error)
    assert "Traceback" not in text and "File " not in text and "\n" not in text
    assert text.startswith("the model failed") and text.endswith("shapes cannot be multiplied")
    assert len(plain_error(ValueError("x" * 5000))) <= 300


def test_repeated_file_names_are_numbered() -> None:
    from dashboard.views._b_helpers import unique_names

    assert unique_names(["a.png", "a.png", "b.png", "a.png", "a (2).png"]) == [
        "a.png", "a (2).png", "b.png", "a (3).png", "a (2) (2).png"]


# ------------------------------------------------------------------------- your model & images
def test_uploads_with_the_same_name_are_all_kept(app_test: Callable[..., Any], zoo: None) -> None:  # noqa: F811
    at = app_test(YOUR_MODEL, data=False)
    at.file_uploader(key="ym_images").set_value([
        ("img.png", png(seed=1), "image/png"), ("img.png", png(seed=2), "image/png"),
        ("img.jpg", png(seed=3), "image/png"),
    ]).run()
    assert not at.exception
    assert any("img (2).png" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert list(table["image"].unique()) == ["img.png", "img (2).png", "img.jpg"]
    maps = next(s for s in at.selectbox if s.key == "ym_map_choice").options
    assert len(maps) == len(set(maps)) == len(table)  # one downloadable map per row, none overwritten


class FlatModel(torch.nn.Module):
    """Expects 64×64 inputs: fails inside TorchScript on the 128×128 frame."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3 * 64 * 64, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def test_a_model_that_fails_on_the_images_shows_its_reason_without_a_traceback(
        app_test: Callable[..., Any]) -> None:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(FlatModel()), buffer)
    at = app_test(YOUR_MODEL, data=False, state={"ym_source": "Upload a model"})
    at.file_uploader(key="ym_model_file").set_value(("flat.pt", buffer.getvalue(), "application/octet-stream"))
    at.run()
    at.file_uploader(key="ym_images").set_value(("a.png", png(), "image/png")).run()
    assert not at.exception
    messages = errors(at)
    assert messages and all("**flat**" in m for m in messages)
    assert all("Traceback" not in m and "<--- HERE" not in m for m in messages)
    assert any("shapes cannot be multiplied" in m for m in messages)
    assert "No saliency maps could be computed" in texts(at)  # not an empty table


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("empty.pt", b"", "the file is empty"),
    ("junk.pt", bytes(range(256)) * 20, "refused junk.pt"),
    ("junk.pt2", bytes(range(256)) * 20, "junk.pt2 is not a torch.export program"),
    ("junk.safetensors", bytes(range(256)) * 20, "junk.safetensors is not a valid safetensors file"),
])
def test_a_garbage_model_file_is_named_with_its_reason(app_test: Callable[..., Any], name: str,
                                                        data: bytes, reason: str) -> None:
    at = app_test(YOUR_MODEL, data=False, state={"ym_source": "Upload a model"})
    at.file_uploader(key="ym_model_file").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception
    assert any(m.startswith(f"**{name}** could not be loaded") and reason in m for m in errors(at)), errors(at)
    assert not any("model.pt" in m or "model.safetensors" in m for m in errors(at))  # the temp name


def test_class_names_that_do_not_fit_the_weights_say_so(app_test: Callable[..., Any], tmp_path: Path) -> None:
    pytest.importorskip("safetensors")
    from safetensors.torch import save

    from saliency_core.zoo.architecture import DemoCNN

    weights = save({k: v.contiguous() for k, v in DemoCNN().state_dict().items()})
    at = app_test(YOUR_MODEL, data=False, state={"ym_source": "Upload a model", "ym_classes": "a, b, c"})
    at.file_uploader(key="ym_model_file").set_value(("mine.safetensors", weights, "application/octet-stream"))
    at.run()
    assert not at.exception
    assert any("**mine.safetensors**" in m and "do not have 3 outputs" in m for m in errors(at)), errors(at)
    at.text_input(key="ym_classes").set_value("cat, dog").run()  # the right number: loads
    assert not at.exception and not at.error


# ------------------------------------------------------------------------------- dataset audit
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


@pytest.mark.parametrize("region", ["-50,-50,500,500", "200,200,300,300", "0,0,inf,inf", "0,0,nan,5", "1,2,3",
                                    "5,5,2,2"])
def test_a_region_outside_the_frame_is_an_error_not_a_crash(app_test: Callable[..., Any], zoo: None,  # noqa: F811
                                                           tmp_path: Path, region: str) -> None:
    at = run_folder_audit(app_test, photo_folder(tmp_path / "set", corrupt=False), region)
    assert not at.exception
    assert any(region in m and "128×128 frame" in m for m in errors(at)), errors(at)


def test_corrupt_files_in_an_audited_folder_are_named_and_the_rest_audited(
        app_test: Callable[..., Any], zoo: None, tmp_path: Path) -> None:  # noqa: F811
    at = run_folder_audit(app_test, photo_folder(tmp_path / "set"), "0,100,60,128")
    assert not at.exception
    assert any("broken.jpg" in w.value for w in at.warning), [w.value for w in at.warning]
    assert any("Audited 4 images" in s.value for s in at.success)


def test_a_folder_without_readable_images_is_an_error_not_a_crash(
        app_test: Callable[..., Any], zoo: None, tmp_path: Path) -> None:  # noqa: F811
    at = run_folder_audit(app_test, photo_folder(tmp_path / "set", good=0))
    assert not at.exception
    assert any("no readable images" in m for m in errors(at)), errors(at)
    assert any("broken.jpg" in w.value for w in at.warning)


# ----------------------------------------------------------------------------------- occlusion
def test_removing_a_bad_occlusion_upload_clears_its_error(app_test: Callable[..., Any], needs_data: Path,
                                                          zoo: None) -> None:  # noqa: F811
    at = app_test(OCCLUSION)
    at.file_uploader(key="occlusion_upload").set_value(("text.jpg", b"just text", "image/jpeg")).run()
    assert not at.exception
    assert any("text.jpg" in m for m in errors(at))
    at.file_uploader(key="occlusion_upload").set_value(("empty.png", b"", "image/png")).run()
    assert not at.exception
    assert any("empty.png" in m and "empty" in m for m in errors(at))
    at.file_uploader(key="occlusion_upload").set_value(None).run()
    assert not at.exception and not at.error  # no stale error about a file that is gone
