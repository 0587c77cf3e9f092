"""An uploaded model is a model wherever it came from: uploaded on Your model with its own
preprocessing (224 px, ImageNet normalisation, class names, a class of interest), then chosen on
Occlusion, Gradients and Quadrants next to the zoo's, computed at its input size in its process and
checked against the library run in this process; sessions never see each other's uploads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from app_harness import data_path
from PIL import Image
from real_model_files import imagenet_224, k_class, reference_model

from dashboard.common.demo_sets import build_demo_set
from dashboard.common.render import to_uint8
from dashboard.common.session_models import upload_key
from dashboard.common.user_models import UserModel
from saliency_core import cell_occlusion
from saliency_core.cli import main
from saliency_core.data.preprocess import Preprocess
from saliency_core.methods import explain

YOUR_MODEL = "views/your_model.py"
IMAGENET_224 = {"ym_source": "Upload a model", "ym_size": 224, "ym_normalize": "imagenet"}


def upload(at: Any, name: str, data: bytes) -> UserModel:
    at.switch_page(YOUR_MODEL).run()
    at.file_uploader(key="ym_model_file").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    user = at.session_state["_ym_user_model"]
    assert isinstance(user, UserModel)
    return user


def framed(image: torch.Tensor, size: int = 224) -> torch.Tensor:
    """A page's 128-px image as the model's input, framed here by the library."""
    return Preprocess.imagenet(size).frame(Image.fromarray(to_uint8(image)))[None]


def page_image() -> torch.Tensor:
    """The image Gradients and Occlusion show first (the second of their strip), built here."""
    return build_demo_set(str(data_path()), 3, "pairs", "pairs").images[1]


def kept(user: UserModel, what: str) -> list[Any]:
    """The results the session keeps on its upload, by what was computed."""
    return [value for key, value in user.maps.items() if key[1] == what]


def test_a_224_imagenet_model_runs_on_every_story_page_next_to_normal(app_test: Callable[..., Any],
                                                                       zoo: bool, needs_data: Path) -> None:
    at = app_test(state=IMAGENET_224)
    user = upload(at, "net224.pt", imagenet_224())
    assert user.preprocess == Preprocess.imagenet(224, classes=("cat", "dog"))
    key = upload_key(user)
    reference = reference_model()
    pre = Preprocess.imagenet(224)

    # Gradients: a row of its own next to Normal
    at.session_state["gradients_models"] = ["normal", key]
    at.session_state["gradients_methods"] = ["vanilla_gradient"]
    at.switch_page("views/gradients.py").run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    assert "net224.pt" in at.multiselect(key="gradients_models").format_func(key)
    image = page_image()
    [maps] = kept(user, "vanilla_gradient")
    expected = explain(reference, framed(image), "vanilla_gradient", preprocess=pre)
    assert maps.maps.shape == (1, 224, 224)  # computed at the model's resolution
    np.testing.assert_allclose(maps.maps[0], expected.maps[0].numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(maps.probabilities[0], expected.probabilities[0].numpy(), rtol=1e-4, atol=1e-6)
    # the normalisation happened (outside the model): without it the model says something else
    unnormalised = Preprocess(size=224).frame(Image.fromarray(to_uint8(image)))[None]
    raw = torch.softmax(reference(unnormalised), 1)[0].detach().numpy()
    assert not np.allclose(raw, maps.probabilities[0], atol=1e-3)

    # Occlusion: the upload's cells, at its resolution, as the library computes them
    at.session_state["occlusion_models"] = ["normal", key]
    at.switch_page("views/occlusion.py").run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    base, cells = kept(user, "cells")[0]
    expected_cells = cell_occlusion(pre.wrap(reference), framed(image), 6)
    np.testing.assert_allclose(base, expected_cells.base[0].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cells, expected_cells.cells[0].numpy(), rtol=1e-4, atol=1e-5)
    assert any("net224.pt" in m.value for m in at.markdown)

    # Quadrants: the 200 images explained at 224, shares measured on the 128-px frame
    at.session_state["quadrant_model"] = key
    at.switch_page("views/quadrants.py").run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    [quadrant_maps] = [m for m in kept(user, "gradient_squared") if m.maps.shape[0] == 200]
    assert quadrant_maps.maps.shape == (200, 224, 224)
    summary = at.dataframe[0].value
    assert int(summary["images"].sum()) == 200


def test_a_five_class_model_is_explained_for_the_chosen_class(app_test: Callable[..., Any], zoo: bool,
                                                               needs_data: Path) -> None:
    at = app_test(state={**IMAGENET_224, "ym_classes": "a, b, c, d, e", "ym_target": "c"})
    user = upload(at, "five.pt", k_class(5))
    assert user.classes == ("a", "b", "c", "d", "e") and user.preprocess.target == 2
    at.session_state["gradients_models"] = ["normal", upload_key(user)]
    at.session_state["gradients_methods"] = ["vanilla_gradient"]
    at.switch_page("views/gradients.py").run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    image = page_image()
    [maps] = kept(user, "vanilla_gradient")
    model = reference_model(classes=5)
    chosen = explain(model, framed(image), "vanilla_gradient", 2, preprocess=Preprocess.imagenet(224))
    np.testing.assert_allclose(maps.maps[0], chosen.maps[0].numpy(), rtol=1e-4, atol=1e-6)
    predicted = int(chosen.probabilities[0].argmax())
    if predicted != 2:  # the class of interest, not the prediction, was explained
        other = explain(model, framed(image), "vanilla_gradient", preprocess=Preprocess.imagenet(224))
        assert not np.allclose(other.maps[0].numpy(), maps.maps[0], atol=1e-6)


def test_two_sessions_see_only_their_own_upload(app_test: Callable[..., Any], zoo: bool, needs_data: Path) -> None:
    first, second = app_test(state=IMAGENET_224), app_test(state=IMAGENET_224)
    mine = upload(first, "mine.pt", imagenet_224(seed=1))
    theirs = upload(second, "theirs.pt", imagenet_224(seed=2))
    for at, own, other in ((first, mine, theirs), (second, theirs, mine)):
        at.switch_page("views/gradients.py").run()
        assert not at.exception
        picker = at.multiselect(key="gradients_models")
        labels = [picker.format_func(o) for o in picker.options]
        assert own.file_name in labels and other.file_name not in labels
        at.switch_page("views/quadrants.py").run()
        assert not at.exception
        # the model picker (a segmented control): the zoo's five, then this session's upload
        [control] = [g for g in at.get("button_group") if g.proto.id.endswith("quadrant_model")
                     or "quadrant_model" in g.proto.id]
        shown = [o.content for o in control.proto.options]
        assert own.file_name in shown and other.file_name not in shown
    assert mine.process.pid != theirs.process.pid


def test_the_cli_accepts_the_same_224_model(tmp_path: Path) -> None:
    model, photo, out = tmp_path / "net224.pt", tmp_path / "cat.png", tmp_path / "maps"
    model.write_bytes(imagenet_224())
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (260, 300, 3), dtype=np.uint8)).save(photo)
    assert main(["explain", "--model", str(model), "--method", "vanilla_gradient", "--input-size", "224",
                 "--normalize", "imagenet", "--out", str(out), str(photo)]) == 0
    with Image.open(out / "cat_vanilla_gradient.png") as written:
        assert written.size == (224, 224)


def test_the_upload_and_its_preprocessing_outlive_a_visit_to_another_page(app_test: Callable[..., Any],
                                                                         zoo: bool, needs_data: Path) -> None:
    at = app_test(state=IMAGENET_224)
    user = upload(at, "net224.pt", imagenet_224())
    pid = user.process.pid
    at.switch_page("views/introduction.py").run()
    at.switch_page(YOUR_MODEL).run()  # its widgets start again: the loaded model's settings come back
    assert not at.exception and not at.error
    assert at.radio(key="ym_source").value == "Upload a model"
    assert at.number_input(key="ym_size").value == 224 and at.radio(key="ym_normalize").value == "imagenet"
    assert at.session_state["_ym_user_model"] is user and user.process.pid == pid
    at.button(key="ym_remove_model").click().run()  # removed: gone from the session and its pickers
    assert "_ym_user_model" not in at.session_state and not user.process.running
    at.switch_page("views/gradients.py").run()
    picker = at.multiselect(key="gradients_models")
    assert "net224.pt" not in [picker.format_func(o) for o in picker.options]


def test_the_224_imagenet_model_audits_a_zip_with_its_own_preprocessing(app_test: Callable[..., Any],
                                                                         zoo: bool) -> None:
    import csv
    import io
    import zipfile

    from saliency_core.data import BUILTIN_DIR
    from saliency_core.data.image_file import read_image

    rows = list(csv.DictReader((BUILTIN_DIR / "MANIFEST.csv").open()))
    picked = [r for species in ("cat", "dog") for r in [r for r in rows if r["species"] == species][:2]]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for row in picked:
            archive.write(BUILTIN_DIR / row["file"], f"{row['species']}/{Path(row['file']).name}")
    at = app_test(state=IMAGENET_224)
    user = upload(at, "net224.pt", imagenet_224())
    at.switch_page("views/dataset_audit.py")
    at.session_state["audit_source"] = "Upload a zip"
    at.run()
    at.file_uploader(key="audit_zip").set_value(("four.zip", buffer.getvalue(), "application/zip")).run()
    at.multiselect(key="audit_folder_models").set_value([upload_key(user)]).run()
    at.button(key="audit_folder_run").click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    table = at.session_state["_audit_dataset_result"].table
    assert set(table["model_title"]) == {"net224.pt"} and len(table) == 4
    # each prediction is the reference model's on the photo framed at 224 px and ImageNet-normalised here
    reference, pre = reference_model(), Preprocess.imagenet(224)
    for row in picked:
        photo = read_image(BUILTIN_DIR / row["file"])
        with torch.no_grad():
            expected = ("cat", "dog")[int(pre.wrap(reference)(pre.frame(photo)[None]).argmax(1))]
        got = table.loc[table["id"].astype(str).str.endswith(Path(row["file"]).name), "prediction"]
        assert list(got) == [expected], (row["file"], list(got), expected)
