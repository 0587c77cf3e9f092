"""Many sessions at once, on every page, with uploads: no exception, and no session sees another's.

Eighteen AppTest sessions of ``dashboard/app.py`` run in threads, started together by a barrier
(one server's worth of users clicking at the same moment): two or three per page, with cells
hidden (Occlusion), hook-based methods (Gradients), the toggle (Two models), another model
(Quadrants), shuffles and reveals (Mystery), the stored report and two folder audits (Dataset
audit), and five different user models and image sets (Your model & images: a model that always
says cat, one that always says dog, two DemoCNNs with different weights, the zoo). Every session
checks that it raised nothing and that what it shows — the uploaded file's name, its images'
names, every prediction and probability — is what ITS inputs give, computed here in-process and
independently of the app, never another session's.

Leaks between sessions would come from caches keyed without a session's upload or from
module-level state; numbers computed while another thread traces or hooks a shared model would
come out wrong.
"""

from __future__ import annotations

import io
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import numpy as np
import pytest
import torch
from app_harness import APP, served, texts
from PIL import Image
from streamlit import config as st_config
from streamlit.components.v2.component_manager import BidiComponentManager
from streamlit.runtime import Runtime
from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager
from streamlit.runtime.dataframe_source_manager import DataframeSourceManager
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.runtime.scriptrunner import magic
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.util import patch_config_options
from torch import nn

import saliency_core as sc
from dashboard.common.audit_cache import BUILTIN_SET, report_fingerprint
from dashboard.common.chips import chip_for, prediction_chip
from dashboard.common.demo_sets import DemoSet, build_demo_set
from dashboard.common.models import CLASSES, METHOD_LABELS, title
from dashboard.common.uploads import validate_image
from saliency_core.artefacts import cage
from saliency_core.data.builtin import builtin_dir
from saliency_core.zoo.architecture import DemoCNN

sys.path.insert(0, str(Path(__file__).resolve().parent / "views"))  # the audit page's synthetic report
from test_dataset_audit_page import synthetic_report  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")]

TIMEOUT = 240  # seconds per AppTest run: eighteen sessions share two cores
SPOILERS = {"cages": "the cage detector", "colours": "the colour detector", "normal": "the normal model"}
AUDIT_MODELS = ["normal", "watermark-100", "colours"]  # the synthetic report's models


# ------------------------------------------------------------------------------------ the inputs
def picture(seed: int, fmt: str = "PNG", size: tuple[int, int] = (110, 150)) -> bytes:
    """A distinct photo-sized image per seed (smooth blobs, so the models give varied answers)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((size[1], size[0]), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


class Biased(nn.Module):
    """Input-dependent (it has gradients) but always ``favourite``, by a margin."""

    def __init__(self, favourite: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)
        self.register_buffer("bias", torch.tensor([3.0, 0.0] if favourite == 0 else [0.0, 2.5]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.1 * torch.tanh(self.conv(x).mean((2, 3))) + self.bias


def scripted(module: nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module.eval()), buffer)
    return buffer.getvalue()


def demo_cnn(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = DemoCNN(width=8)
    for module in model.modules():  # random running statistics: the seeds' outputs differ clearly
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def softmax_of(model: nn.Module, images: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(model(images.float()), dim=1).numpy()


# ------------------------------------------------------------------------------- the expectations
def pairs_set(root: str) -> DemoSet:
    """What ``demo_sets.occlusion_pairs(6)`` shows (Occlusion, Gradients)."""
    return build_demo_set(root, 3, "pairs", "pairs", 0).subset(list(range(12)))


def mystery_images(root: str, batch: int) -> torch.Tensor:
    """The Mystery page's batch ``batch`` (five batches of four; the last two of each caged)."""
    demo = build_demo_set(root, 10, "no", "no", 0)
    cats = [i for i, label in enumerate(demo.labels) if label == "cat"][:10]
    dogs = [i for i, label in enumerate(demo.labels) if label == "dog"][:10]
    chosen = demo.images[[i for pair in zip(cats, dogs) for i in pair]].clone()
    for j in range(len(chosen)):
        if j % 4 >= 2:
            chosen[j] = cage(chosen[j], seed=j)[0]
    return chosen[batch * 4:(batch + 1) * 4]


def correct_counts(probs: np.ndarray, labels: tuple[str, ...]) -> int:
    return int((probs.argmax(1) == np.array([CLASSES.index(label) for label in labels])).sum())


# ------------------------------------------------------------------------------------- a session
@dataclass
class Session:
    name: str
    drive: Callable[[AppTest], None]  # runs the session's clicks and asserts what it shows
    seconds: float = 0.0
    error: str = ""


def shared_runtime() -> Any:
    """One mock Runtime for every session, as one server has: AppTest sets a Runtime of its own at
    the start of each run and None at its end, which under concurrent runs would pull the Runtime
    from under the sessions still running (a harness artefact, not the app's)."""
    runtime = MagicMock(spec=Runtime)
    runtime.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    runtime.dataframe_source_mgr = DataframeSourceManager()
    runtime.cache_storage_manager = MemoryCacheStorageManager()
    components = BidiComponentManager()
    components.discover_and_register_components(start_file_watching=False)
    runtime.bidi_component_registry = components
    return runtime


def new_app(page: str, state: dict[str, Any] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.switch_page(page)
    return at


def clean(at: AppTest, what: str) -> None:
    assert not at.exception, f"{what}: {[(e.value, e.stack_trace[-6:]) for e in at.exception]}"
    assert not at.error, f"{what}: {[e.value for e in at.error]}"


def chips_in(at: AppTest) -> list[str]:
    return [str(m.value) for m in at.markdown if "sl-chip" in str(m.value)]


def mystery_cells(at: AppTest) -> list[tuple[str, str]]:
    """(model heading, prediction chip) of every map in the Mystery page's one HTML grid, row by row."""
    [grid] = [str(m.value) for m in at.markdown if 'class="sl-mystery"' in str(m.value)]
    return re.findall(r'<span class="sl-mlabel">([^<]*)</span><br>(.*?)</figcaption>', grid, flags=re.S)


# ------------------------------------------------------------------------------------- the pages
def occlusion_session(root: str, models: dict[str, nn.Module], upload: tuple[str, bytes] | None,
                      cells: list[int]) -> Callable[[AppTest], None]:
    """Occlusion: (an uploaded image or the default photo) with ``cells`` of the 6×6 grid hidden."""
    if upload is not None:
        image = validate_image(*upload).image
    else:
        image = pairs_set(root).images[1]
    expected = {m: sc.cell_occlusion(models[m], image[None].contiguous(), 6, cells).base[0].numpy()
                for m in ("normal", "watermark-100")}

    def drive(at: AppTest) -> None:
        at.run()
        clean(at, "first view")
        if upload is not None:
            at.file_uploader(key="occlusion_upload").set_value((upload[0], upload[1], "image/png")).run()
            clean(at, "upload")
        at.session_state["occluded_cells"] = cells
        at.run()
        clean(at, "cells hidden")
        shown = texts(at)
        if upload is not None:
            assert f"Your image: {upload[0]}" in shown, shown
        else:
            assert "Your image:" not in shown
        readout = next(str(m.value) for m in at.markdown if "sl-occ-readout" in str(m.value))
        assert f"{len(cells)} cells hidden" in readout
        for name, probs in expected.items():
            k = int(np.argmax(probs))
            assert f"{title(name)}: {prediction_chip(CLASSES[k], float(probs[k]))}" in readout, (name, readout)

    return drive


def gradients_session(root: str, models: dict[str, nn.Module], pick: int, names: list[str],
                      methods: list[str]) -> Callable[[AppTest], None]:
    pairs = pairs_set(root)
    expected = [f"{title(n)} &nbsp; {chip_for(softmax_of(models[n], pairs.images)[pick], CLASSES)}" for n in names]

    def drive(at: AppTest) -> None:
        at.session_state["gradients_image"] = pairs.ids[pick]
        at.session_state["gradients_models"] = names
        at.session_state["gradients_methods"] = methods
        at.run()
        clean(at, "gradients")
        [grid] = [str(h.value) for h in at.html if 'class="sl-gradients-grid"' in str(h.value)]
        captions = [c for c in re.findall(r"<figcaption[^>]*>(.*?)</figcaption>", grid, flags=re.S) if "sl-chip" in c]
        assert captions == expected, (captions, expected)
        assert grid.count("<img ") == len(names) * (1 + len(methods))  # per model: the input and its maps
        assert len(at.image) == 3  # the signed section: input, signed map, colour bar

    return drive


def two_models_session(root: str, models: dict[str, nn.Module], toggle: bool) -> Callable[[AppTest], None]:
    def scores(watermarked: bool) -> dict[str, str]:
        demo = build_demo_set(root, 25, "yes" if watermarked else "no", "no", 0)
        return {n: f"{correct_counts(softmax_of(models[n], demo.images), demo.labels)}/50 correct"
                for n in ("normal", "watermark-100")}

    first, second = scores(True), scores(False)

    def shown(at: AppTest) -> dict[str, str]:
        found = {}
        for m in at.markdown:
            hit = re.search(r'data-model="([^"]+)"[^>]*>([^<]+)</div>', str(m.value))
            if hit:
                found[hit.group(1)] = hit.group(2)
        return found

    def drive(at: AppTest) -> None:
        at.run()
        clean(at, "watermarked set")
        assert shown(at) == first
        if toggle:
            at.segmented_control(key="two_models_set").set_value("clean").run()
            clean(at, "clean set")
            assert shown(at) == second

    return drive


def quadrants_session(root: str, models: dict[str, nn.Module], model: str) -> Callable[[AppTest], None]:
    demo = build_demo_set(root, 50, "both", "both", 0)
    probs = softmax_of(models[model], demo.images)
    expected = []
    for label, marked in (("cat", True), ("dog", True), ("cat", False), ("dog", False)):
        rows = [i for i in range(len(demo)) if demo.labels[i] == label and demo.watermarked[i] == marked]
        correct = correct_counts(probs[rows], tuple(demo.labels[i] for i in rows))
        expected.append(f"{label}s {'with' if marked else 'without'} watermark".capitalize()
                        + f"** — {correct}/{len(rows)} correct")

    def drive(at: AppTest) -> None:
        at.session_state["quadrant_model"] = model
        at.session_state["quadrant_tab"] = "Image grid"  # its per-quadrant counts
        at.run()
        clean(at, model)
        assert f"**{title(model)}** model:" in texts(at)
        counts = [str(m.value) for m in at.markdown if "correct" in str(m.value) and "—" in str(m.value)]
        assert sorted(c.lstrip("*") for c in counts) == sorted(expected), (counts, expected)

    return drive


def mystery_session(root: str, models: dict[str, nn.Module], shuffles: int, reveal: int,
                    method: str | None) -> Callable[[AppTest], None]:
    images = mystery_images(root, shuffles)
    key = "gradient_squared" if method == "Gradient squared" else "vanilla_gradient"
    probabilities = {n: sc.explain(models[n], images, key).probabilities.numpy()
                     for n in ("cages", "colours", "normal")}
    truths = ("cat", "dog", "cat", "dog")

    def drive(at: AppTest) -> None:
        at.run()
        clean(at, "first view")
        order = list(at.session_state["mystery_order"])
        for _ in range(shuffles):
            at.button(key="mystery_shuffle").click().run()
        if method is not None:
            at.segmented_control(key="mystery_method").set_value(method).run()
        at.button(key=f"mystery_reveal_{reveal}").click().run()
        clean(at, "after the clicks")
        assert at.session_state["mystery_order"] == order  # shuffled once per session, kept
        assert at.session_state["mystery_batch"] == shuffles
        revealed = order[reveal - 1]
        assert at.session_state["mystery_revealed"] == [revealed]
        [spoiler] = [str(s.value) for s in at.main.success]
        assert spoiler.startswith(f"**Mystery model {reveal} is the ")
        assert SPOILERS[revealed] in spoiler
        expected = [(f"Mystery model {k}", chip_for(probabilities[n][i], CLASSES, truth=truths[i]))
                    for i in range(4) for k, n in enumerate(order, start=1)]
        assert mystery_cells(at) == expected

    return drive


def audit_demo_session() -> Callable[[AppTest], None]:
    def drive(at: AppTest) -> None:
        at.run()
        clean(at, "demo report")
        assert "Precomputed report" in texts(at) and not at.progress
        assert at.get("plotly_chart")

    return drive


def audit_folder_session(folder: Path, n: int, names: list[str]) -> Callable[[AppTest], None]:
    method = "gradient_squared"
    said = (f"Audited {n} images with {len(names)} model(s) ({', '.join(title(m) for m in names)}; "
            f"{METHOD_LABELS[method]}) from `{folder}`.")

    def drive(at: AppTest) -> None:
        at.session_state["audit_source"] = "A folder on this server"
        at.session_state["audit_folder"] = str(folder)
        at.session_state["audit_folder_models"] = names
        at.session_state["audit_folder_method"] = method
        at.run()
        at.button(key="audit_folder_run").click().run()
        clean(at, "folder audit")
        assert [str(s.value) for s in at.main.success] == [said]  # its own folder, models and count
        summary = at.dataframe[0].value  # per model (display name) and class
        assert set(summary["model"]) == {title(m) for m in names}
        assert summary.groupby("model")["n"].sum().to_dict() == {title(m): n for m in names}

    return drive


def your_model_session(model_file: tuple[str, bytes] | None, images: list[tuple[str, bytes]],
                       models: dict[str, nn.Module], tmp: Path) -> Callable[[AppTest], None]:
    """Your model & images: ``model_file`` (None: the zoo's Normal model) explained on ``images``."""
    frames = torch.stack([validate_image(name, data).image for name, data in images])
    if model_file is None:
        label, probs = title("normal"), softmax_of(models["normal"], frames)
    else:
        path = tmp / model_file[0]
        path.write_bytes(model_file[1])
        label, probs = Path(model_file[0]).stem, softmax_of(sc.load_model(path), frames)

    def drive(at: AppTest) -> None:
        at.run()
        if model_file is not None:
            at.file_uploader(key="ym_model_file").set_value((model_file[0], model_file[1], "application/octet-stream"))
        at.file_uploader(key="ym_images").set_value([(name, data, "image/png") for name, data in images])
        at.run()
        clean(at, "maps")
        table = at.dataframe[0].value
        assert set(table["model"]) == {label}, table
        assert sorted(set(table["image"])) == sorted(name for name, _ in images), table
        for i, (name, _) in enumerate(images):
            rows = table[table["image"] == name]
            k = int(np.argmax(probs[i]))
            assert set(rows["prediction"]) == {CLASSES[k]}, (name, rows)
            assert np.allclose(rows["confidence"].to_numpy(), probs[i][k], atol=1e-5), (name, rows, probs[i])
        headings = [str(m.value) for m in at.markdown if str(m.value).startswith("##### ")]
        assert headings == [f"##### {name}" for name, _ in images]
        if model_file is not None:
            assert at.session_state["_ym_user_model"].process.name.startswith(Path(model_file[0]).stem)

    return drive


# ------------------------------------------------------------------------------------- the test
@pytest.mark.timeout(300)
def test_concurrent_sessions_on_every_page_with_uploads_never_leak(
        needs_data: Path, zoo: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not zoo:
        pytest.skip("the zoo's trained weights are not installed (saliency-lab train --all)")
    monkeypatch.delenv("SALIENCY_DATA", raising=False)  # the built-in photos
    root = str(builtin_dir())
    models = {n: served(n) for n in ("normal", "watermark-100", "cages", "colours")}
    # the Dataset audit's demo report: a small stored one, fresh for the installed zoo and photos
    synthetic_report(tmp_path / "audit" / BUILTIN_SET, fingerprint=report_fingerprint(AUDIT_MODELS, root))
    monkeypatch.setenv("SALIENCY_AUDIT_CACHE", str(tmp_path / "audit"))
    folders = []
    for n, folder in ((2, tmp_path / "two-each"), (3, tmp_path / "three-each")):
        for k, label in enumerate(("cat", "dog")):
            (folder / label).mkdir(parents=True)
            for i in range(n):
                (folder / label / f"{label}.{i}.png").write_bytes(picture(100 + 10 * k + i))
        folders.append(folder)

    jpeg = picture(41, "JPEG")
    sessions = [
        Session("occlusion: upload, 3 cells hidden", occlusion_session(root, models, ("mine_a.png", picture(1)),
                                                                       [0, 1, 2])),
        Session("occlusion: other upload, 5 cells", occlusion_session(root, models, ("mine_b.png", picture(2)),
                                                                      [14, 15, 20, 21, 22])),
        Session("occlusion: the photo, 2 cells", occlusion_session(root, models, None, [30, 31])),
        Session("gradients: hooks", gradients_session(root, models, 1, ["normal", "watermark-100"],
                                                      ["guided_backprop", "grad_cam"])),
        Session("gradients: other image, models", gradients_session(root, models, 4, ["cages", "colours"],
                                                                    ["vanilla_gradient", "rectified_gradient"])),
        Session("two models", two_models_session(root, models, toggle=False)),
        Session("two models: toggled", two_models_session(root, models, toggle=True)),
        Session("quadrants: watermark", quadrants_session(root, models, "watermark-100")),
        Session("quadrants: normal", quadrants_session(root, models, "normal")),
        Session("mystery: 1 shuffle, reveal 1", mystery_session(root, models, 1, 1, None)),
        Session("mystery: 2 shuffles, squared, reveal 3", mystery_session(root, models, 2, 3, "Gradient squared")),
        Session("audit: demo report", audit_demo_session()),
        Session("audit: folder of 4", audit_folder_session(folders[0], 4, ["normal"])),
        Session("audit: folder of 6", audit_folder_session(folders[1], 6, ["normal", "watermark-100"])),
        Session("your model: always cat", your_model_session(
            ("always_cat.pt", scripted(Biased(0))), [("a1.png", picture(11)), ("a2.png", picture(12))],
            models, tmp_path)),
        Session("your model: always dog", your_model_session(
            ("always_dog.pt", scripted(Biased(1))), [("b1.png", picture(21))], models, tmp_path)),
        Session("your model: DemoCNN seed 1", your_model_session(
            ("cnn_one.pt", scripted(demo_cnn(1))), [("c1.png", picture(31)), ("c2.png", picture(32)),
                                                    ("c3.png", picture(33))], models, tmp_path)),
        Session("your model: DemoCNN seed 2", your_model_session(
            ("cnn_two.pt", scripted(demo_cnn(2))), [("d1.jpg", jpeg), ("a1.png", picture(13))], models, tmp_path)),
        Session("your model: the zoo", your_model_session(None, [("e1.png", picture(51))], models, tmp_path)),
    ]
    pages = {
        "occlusion": "views/occlusion.py", "gradients": "views/gradients.py", "two models": "views/two_models.py",
        "quadrants": "views/quadrants.py", "mystery": "views/mystery.py", "audit": "views/dataset_audit.py",
        "your model": "views/your_model.py",
    }
    states = {"your model": {"ym_source": "Upload a model"}}
    apps = []
    for session in sessions:
        kind = session.name.split(":")[0]
        state = dict(states.get(kind, {}))
        if session.name == "your model: the zoo":
            state = {"ym_source": "Built-in zoo models", "ym_zoo_models": ["normal"], "ym_methods": ["grad_cam"]}
        apps.append(new_app(pages[kind], state))
    assert len(sessions) >= 12 and {s.name.split(":")[0] for s in sessions} == set(pages)

    runtime = shared_runtime()
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: runtime))
    monkeypatch.setattr(Runtime, "exists", classmethod(lambda cls: True))
    barrier = threading.Barrier(len(sessions))

    def run(session: Session, at: AppTest) -> None:
        try:
            barrier.wait(timeout=60)
            start = time.monotonic()
            session.drive(at)
            session.seconds = time.monotonic() - start
        except BaseException as error:  # noqa: BLE001 - reported below, per session
            session.error = f"{error.__class__.__name__}: {error}"[:4000]

    # CPython 3.11 (3.11.7 here) can fail parsing in two threads at once: "SystemError: AST
    # constructor recursion depth mismatch" (CPython gh-106905). Each AppTest compiles its page
    # itself (a server compiles it once), so compile one at a time: a harness artefact, not the app's
    parse_lock = threading.Lock()
    add_magic = magic.add_magic

    def one_at_a_time(*args: Any, **kwargs: Any) -> Any:
        with parse_lock:
            return add_magic(*args, **kwargs)

    monkeypatch.setattr(magic, "add_magic", one_at_a_time)

    # AppTest patches streamlit's config.get_option around each run; concurrent runs would restore
    # each other's patch in the wrong order, so hold the same patch around all of them
    get_option = st_config.get_option
    try:
        with patch_config_options({"global.appTest": True}):
            threads = [threading.Thread(target=run, args=(s, a), name=s.name) for s, a in zip(sessions, apps)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=TIMEOUT + 30)
    finally:
        st_config.get_option = get_option
        for at in apps:  # end the sessions' model processes
            held = at.session_state["_ym_user_model"] if "_ym_user_model" in at.session_state else None
            if held is not None and hasattr(held, "process"):
                held.process.close()
    assert not any(thread.is_alive() for thread in threads), [t.name for t in threads if t.is_alive()]
    failures = {s.name: s.error for s in sessions if s.error}
    assert not failures, "\n\n".join(f"{name}: {error}" for name, error in failures.items())
