"""The Your model & images page: uploads (images and models) become maps and a results table;
every bad file is a message naming it, and the good files beside it still run. The suspect region
is chosen on the first photo (typed in its own pixels, or a mask file) and measured in the frame."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from app_harness import data_path, errors, goto_page, no_browser_exception, screenshot, served, texts, wait_for_app, zoo_loads
from PIL import Image
from playwright.sync_api import expect
from safetensors.torch import save, save_file

import saliency_core
from dashboard.common.models import title
from saliency_core.data.preprocess import Preprocess
from saliency_core.metrics import top_percent_share
from saliency_core.zoo.architecture import DemoCNN

YOUR_MODEL = "views/your_model.py"


def png(width: int = 150, height: int = 100, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------- images
def test_upload_shows_maps_and_results_table(app_test: Callable[..., Any], zoo: bool) -> None:
    at = app_test(YOUR_MODEL, data=False)  # works without a data directory
    assert not at.exception
    at.file_uploader(key="ym_images").set_value(("kitten.png", png(), "image/png")).run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["image"].unique()) == ["kitten.png"]
    assert set(table["method"]) == {"gradient_squared", "vanilla_gradient"}
    assert table["share_top_0.5%_in_box"].between(0, 1).all()
    # thumbnail + input + one map per model x method (the region is drawn by the picker's component)
    assert len(at.image) == 2 + len(table)
    assert {b.label for b in at.get("download_button")} >= {"Results table (CSV)", "This map (PNG)"}


def test_bad_uploads_get_an_error_each_and_good_ones_still_run(app_test: Callable[..., Any], zoo: bool) -> None:
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
    messages = errors(at)
    assert len(messages) == 2
    assert "broken.png" in messages[0] and "animated.gif" in messages[1] and "frame" in messages[1]
    assert list(at.dataframe[0].value["image"].unique()) == ["good.png"]


def test_uploads_with_the_same_name_are_all_kept(app_test: Callable[..., Any], zoo: bool) -> None:
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


def test_empty_box_is_an_error_not_a_crash(app_test: Callable[..., Any], zoo: bool) -> None:
    at = app_test(YOUR_MODEL, data=False)
    at.file_uploader(key="ym_images").set_value(("a.png", png(), "image/png")).run()
    at.text_input(key="ym_region_text").set_value("50,50,50,60").run()
    assert not at.exception
    assert [e.value for e in at.error if "is empty" in e.value], errors(at)
    assert at.dataframe[0].value["share_top_0.5%_in_box"].isna().all()


# ------------------------------------------------------------------------------------- regions
MODELS = ("normal", "watermark-100")  # the page's default zoo models and methods
METHODS = ("gradient_squared", "vanilla_gradient")


def independent_shares(photo: bytes, region: torch.Tensor) -> dict[tuple[str, str], float]:
    """(model title, method) -> the share of the top-0.5% pixels in ``region`` (a [1,4] box or a
    [1,128,128] mask in the 128-px frame), from the library alone."""
    frame = Preprocess().frame(Image.open(io.BytesIO(photo)))[None]
    shares = {}
    for name in MODELS:
        model = served(name)
        for method in METHODS:
            maps = saliency_core.explain(model, frame, method).maps
            shares[(title(name), method)] = float(top_percent_share(maps, region, percent=0.5)[0])
    return shares


def page_shares(at: Any) -> dict[tuple[str, str], float]:
    table = at.dataframe[0].value
    return {(row.model, row.method): float(row["share_top_0.5%_in_box"]) for _, row in table.iterrows()}


def mask_png(mask: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_mask_file_is_measured_as_the_mask_not_its_box(app_test: Callable[..., Any], zoo: bool) -> None:
    photo = png(64, 96, seed=3)  # 64 wide, 96 tall: doubled to 128x192, the frame is rows 32..160
    mask = np.zeros((96, 64), bool)
    mask[40:70, 8:40] = True
    mask[40:50, 40:60] = True  # an L: its tight box (x 8..60, y 40..70) holds more than it
    at = app_test(YOUR_MODEL, data=False)
    at.file_uploader(key="ym_images").set_value(("tall.png", photo, "image/png")).run()
    at.radio(key="ym_region_source").set_value("file").run()
    at.file_uploader(key="ym_region_file").set_value(("mask.png", mask_png(mask), "image/png")).run()
    assert not at.exception and not at.error, errors(at)
    framed = np.kron(mask, np.ones((2, 2), dtype=bool))[32:160]  # each photo pixel a 2x2 block
    expected = independent_shares(photo, torch.from_numpy(framed)[None])
    tight = independent_shares(photo, torch.tensor([[16, 48, 120, 108]], dtype=torch.float32))
    assert any(expected[k] != tight[k] for k in expected)  # else this photo could not tell them apart
    assert page_shares(at) == pytest.approx(expected, abs=1e-6)
    assert "input + region" in [c for i in at.image for c in i.captions]


def test_a_typed_box_in_photo_pixels_maps_to_the_frame(app_test: Callable[..., Any], zoo: bool) -> None:
    photo = png(150, 100, seed=4)  # x1.28 to 192x128, the frame starts 32 px in
    at = app_test(YOUR_MODEL, data=False)
    at.file_uploader(key="ym_images").set_value(("wide.png", photo, "image/png")).run()
    at.text_input(key="ym_region_text").set_value("50,20,100,80").run()
    assert not at.exception and not at.error, errors(at)
    # x 50*1.28-32 = 32 .. 100*1.28-32 = 96; y floor(25.6) = 25 .. ceil(102.4) = 103
    frame_box = (32, 25, 96, 103)
    assert any("32,25,96,103" in c.value and "128×128 frame" in c.value for c in at.caption)
    expected = independent_shares(photo, torch.tensor([frame_box], dtype=torch.float32))
    assert page_shares(at) == pytest.approx(expected, abs=1e-6)


class PooledModel(torch.nn.Module):
    """Any input size (a convolution, then the mean): for an upload at 224 pixels."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 2, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)).mean((2, 3))


def test_a_typed_box_maps_to_an_uploaded_models_own_frame(app_test: Callable[..., Any]) -> None:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(PooledModel().eval()), buffer)
    photo = png(150, 100, seed=5)
    at = app_test(YOUR_MODEL, data=False, state={"ym_source": "Upload a model", "ym_size": 224,
                                                 "ym_resize": "stretch"})
    at.file_uploader(key="ym_model_file").set_value(("pooled.pt", buffer.getvalue(), "application/octet-stream"))
    at.run()
    at.file_uploader(key="ym_images").set_value(("wide.png", photo, "image/png")).run()
    at.text_input(key="ym_region_text").set_value("50,20,100,80").run()
    assert not at.exception and not at.error, errors(at)
    # stretched to 224x224: x * 224/150 -> 74.7..149.3, y * 224/100 -> 44.8..179.2, outward
    assert any("74,44,150,180" in c.value and "224×224 frame" in c.value for c in at.caption)
    pre = Preprocess(size=224, resize="stretch")
    frame = pre.frame(Image.open(io.BytesIO(photo)))[None]
    model = torch.jit.load(io.BytesIO(buffer.getvalue())).eval()
    box = torch.tensor([[74, 44, 150, 180]], dtype=torch.float32)
    expected = {("pooled", m): float(top_percent_share(saliency_core.explain(model, frame, m).maps, box)[0])
                for m in METHODS}
    assert page_shares(at) == pytest.approx(expected, abs=1e-6)


# ------------------------------------------------------------------------------------- models
def test_uploaded_safetensors_model(app_test: Callable[..., Any], tmp_path: Path) -> None:
    """A user's weights + architecture name, loaded by saliency_core.load_model (never unpickled)."""
    if not hasattr(saliency_core.zoo, "load_model"):
        pytest.skip("saliency_core.load_model is not available yet")
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
    weights = save({k: v.contiguous() for k, v in DemoCNN().state_dict().items()})
    at = app_test(YOUR_MODEL, data=False, state={"ym_source": "Upload a model", "ym_classes": "a, b, c"})
    at.file_uploader(key="ym_model_file").set_value(("mine.safetensors", weights, "application/octet-stream"))
    at.run()
    assert not at.exception
    assert any("**mine.safetensors**" in m and "do not have 3 outputs" in m for m in errors(at)), errors(at)
    at.text_input(key="ym_classes").set_value("cat, dog").run()  # the right number: loads
    assert not at.exception and not at.error


# ------------------------------------------------------------------------------ in the browser
@pytest.mark.e2e
def test_upload_shows_its_saliency_map(streamlit_server: str, browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    goto_page(page, streamlit_server, "your_model")
    no_browser_exception(page)
    if not zoo_loads():  # no zoo: bring a model, as a user would (weights + architecture name)
        weights = tmp_path / "my_model.safetensors"
        save_file({k: v.contiguous() for k, v in DemoCNN().state_dict().items()}, weights)
        page.get_by_text("Upload a model").click()
        wait_for_app(page)
        page.locator("[data-testid='stFileUploaderDropzoneInput']").nth(1).set_input_files(str(weights))
        wait_for_app(page)
    photo = tmp_path / "kitten.png"
    data = data_path()
    if data is not None and (data / "cat" / "cat.4001.jpg").is_file():  # a real photo reads better
        Image.open(data / "cat" / "cat.4001.jpg").save(photo)
    else:
        pixels = np.random.default_rng(0).integers(0, 256, (160, 200, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(photo)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(photo))
    wait_for_app(page)
    expect(page.get_by_text("4. Maps and results")).to_be_visible()
    expect(page.get_by_text("Gradient squared").first).to_be_visible()
    # thumbnail, the input with its region and at least two saliency maps
    assert page.get_by_test_id("stImage").count() >= 4
    expect(page.get_by_test_id("stDataFrame")).to_have_count(1)
    no_browser_exception(page)
    screenshot(page, "your_model-maps")
