"""The Your model & images page runs an uploaded model in its own process under a time limit.

A model that loops is stopped after the limit set on the page (here 2 s): at upload when it loops
on any input, per method when it loops on real images only. The page shows why, stays usable, and
does not run the same stopped work again on every rerun. A stopped computation (Cancel) stays
stopped until asked again; removing the upload ends its process. The Cancel click itself is a
browser test (AppTest cannot click while a script runs).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from app_harness import errors, goto_page, no_browser_exception, texts, wait_for_app
from PIL import Image
from playwright.sync_api import expect
from torch import nn

from dashboard.common.explanations import digest_of
from dashboard.common.uploads import validate_image
from dashboard.common.user_models import CANCELLED_KEY, run_signature
from saliency_core.zoo import model_process

from hanging_models import AlwaysLoops, LoopsOnImages  # tests/: the shared hanging models

YOUR_MODEL = "views/your_model.py"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script/save

LIMIT = 2
SLACK = 8.0  # seconds a stopped run may take beyond the limit on a busy machine (AppTest included)
METHODS = ["gradient_squared", "vanilla_gradient"]  # the page's default


class Fine(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean((2, 3))


def scripted(module: nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module.eval()), buffer)
    return buffer.getvalue()


def png(seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(1, 256, (100, 150, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(at: Any, name: str, data: bytes) -> Any:
    at.file_uploader(key="ym_model_file").set_value((name, data, "application/octet-stream"))
    return at


def timed_run(at: Any) -> float:
    start = time.monotonic()
    at.run()
    return time.monotonic() - start


def processes_named(name: str) -> list[model_process.ModelProcess]:
    return [p for p in model_process.live_processes() if p.name == name]


@pytest.mark.timeout(120)
def test_a_model_that_loops_on_every_input_is_stopped_at_upload(app_test: Callable[..., Any], zoo: bool) -> None:
    at = app_test(YOUR_MODEL, data=False, state={"ym_source": "Upload a model", "ym_time_limit": LIMIT})
    took = timed_run(upload(at, "always.pt", scripted(AlwaysLoops())))
    assert not at.exception
    assert LIMIT <= took < LIMIT + SLACK
    [message] = errors(at)
    assert message.startswith("**always.pt** could not be loaded as a model: always.pt: a forward pass did not "
                              "finish within 2 s; stopped — raise the limit with the time limit in section 2")
    assert not processes_named("always.pt")
    # a rerun shows the same error without loading (and waiting) again
    at.file_uploader(key="ym_images").set_value(("a.png", png(), "image/png"))
    assert timed_run(at) < LIMIT and errors(at) == [message]
    # the page stays usable: the zoo models explain the image
    at.radio(key="ym_source").set_value("Built-in zoo models").run()
    assert not at.exception and not errors(at)
    assert len(at.dataframe) == 1 and set(at.dataframe[0].value["method"]) == set(METHODS)


@pytest.mark.timeout(120)
def test_a_model_that_loops_on_the_images_is_stopped_and_its_other_methods_skipped(
        app_test: Callable[..., Any]) -> None:
    at = app_test(YOUR_MODEL, data=False, state={"ym_source": "Upload a model", "ym_time_limit": LIMIT})
    upload(at, "loops.pt", scripted(LoopsOnImages())).run()
    assert not at.exception and not errors(at)  # the probe (a zero image) passes: loaded
    [process] = processes_named("loops.pt")
    pid = process.pid
    at.file_uploader(key="ym_images").set_value(("a.png", png(), "image/png"))
    took = timed_run(at)
    assert not at.exception
    assert LIMIT <= took < LIMIT + SLACK  # one method stopped; the other was not tried
    [message] = errors(at)
    assert message.startswith("Gradient squared was stopped on **loops**: loops.pt: a forward pass did not "
                              "finish within 2 s; stopped")
    assert message.endswith("(Vanilla gradient skipped.)")
    assert "No saliency maps could be computed" in texts(at)
    assert not process.running and pid is not None and not _alive(pid)
    # reruns do not run the stopped work again
    at.slider(key="ym_alpha").set_value(0.5)
    assert timed_run(at) < LIMIT and errors(at) == [message]


def test_a_cancelled_computation_stays_stopped_until_run_again(app_test: Callable[..., Any]) -> None:
    at = app_test(YOUR_MODEL, data=False, state={"ym_source": "Upload a model"})
    upload(at, "fine.pt", scripted(Fine()))
    at.file_uploader(key="ym_images").set_value(("a.png", png(), "image/png")).run()
    assert not at.exception and not errors(at) and len(at.dataframe) == 1
    assert at.number_input(key="ym_time_limit").value == model_process.default_timeout()
    [process] = processes_named("fine.pt")
    # what the Cancel button's callback records (the click itself stops the run: see the browser test)
    key = at.session_state["_ym_user_model"].key
    at.session_state[CANCELLED_KEY] = run_signature([digest_of(validate_image("a.png", png()).image)], [key],
                                                    METHODS)
    at.run()
    assert not at.exception and not at.dataframe
    assert "Stopped." in texts(at)
    at.button(key="ym_run_again").click().run()
    assert not at.exception and len(at.dataframe) == 1
    # choosing the zoo keeps the upload loaded for the session's other pages (the upload widget is
    # gone, and empty when it comes back: the page says the model is loaded); Remove ends it
    pid = process.pid
    at.radio(key="ym_source").set_value("Built-in zoo models").run()
    assert not at.exception and process.running and process.pid == pid
    at.radio(key="ym_source").set_value("Upload a model").run()
    assert "fine.pt** is loaded" in texts(at)
    at.button(key="ym_remove_model").click().run()
    assert not at.exception and "_ym_user_model" not in at.session_state
    assert not process.running and pid is not None and not _alive(pid)
    assert not processes_named("fine.pt")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


# ------------------------------------------------------------------------------ in the browser


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().split(")")[-1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_pid(url: str) -> int | None:
    port = url.rsplit(":", 1)[-1]
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if b"streamlit" in b" ".join(argv) and b"--server.port" in argv and port.encode() in argv:
            return int(entry.name)
    return None


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_cancel_stops_a_running_model_at_once(streamlit_server: str, browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    goto_page(page, streamlit_server, "your_model")
    page.get_by_text("Upload a model").click()
    wait_for_app(page)
    model = tmp_path / "loops.pt"
    model.write_bytes(scripted(LoopsOnImages()))
    page.locator("[data-testid='stFileUploaderDropzoneInput']").nth(1).set_input_files(str(model))
    wait_for_app(page)
    photo = tmp_path / "kitten.png"
    photo.write_bytes(png())
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(photo))
    cancel = page.get_by_role("button", name="Cancel")
    expect(cancel).to_be_visible(timeout=60_000)
    page.wait_for_timeout(1500)  # the model is in its loop now (the limit is 60 s)
    start = time.monotonic()
    cancel.click()
    expect(page.get_by_text("Stopped.")).to_be_visible(timeout=20_000)
    assert time.monotonic() - start < 20
    wait_for_app(page)
    no_browser_exception(page)
    expect(page.get_by_role("button", name="Run again")).to_be_visible()
    server = _server_pid(streamlit_server)
    if server is not None:  # nothing the server started keeps burning a core
        before = {pid: _cpu_seconds(pid) for pid in _descendants(server)}
        time.sleep(1.5)
        burning = [pid for pid, used in before.items() if _cpu_seconds(pid) - used > 0.75]
        assert not burning, burning
