"""The audit of a brought dataset: progress as it goes, class folders matched to model outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dashboard.common.dataset_upload import audit_dataset, frame_key, label_map
from dashboard.common.session_models import zoo_choice
from saliency_core.data.mask_folders import load_mask_folders
from saliency_core.data.preprocess import Preprocess


def folder(root: Path, classes: tuple[str, ...] = ("dog", "cat"), per_class: int = 5) -> Path:
    for k, name in enumerate(classes):
        for i in range(per_class):
            path = root / name / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.random.default_rng(10 * k + i).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(path)
    return root


def test_progress_moves_with_every_batch_up_to_all_images_times_models(tmp_path: Path, zoo: bool) -> None:
    images = load_mask_folders(folder(tmp_path / "set", per_class=20))  # 40 images: two batches per model
    calls: list[tuple[int, int, str]] = []
    choices = [zoo_choice("normal"), zoo_choice("colours")]
    table = audit_dataset({frame_key(Preprocess()): images}, choices, "gradient_squared", (0, 0, 64, 64),
                          lambda done, total, model: calls.append((done, total, model)))
    assert [done for done, _, _ in calls] == [32, 40, 72, 80]
    assert {total for _, total, _ in calls} == {80} and [m for _, _, m in calls] == ["Normal"] * 2 + ["Colours"] * 2
    assert len(table) == 80 and table["share"].between(0, 1).all()
    # the folders are cat, dog in sorted order; each row's truth is its folder
    assert (table["truth"] == table["id"].str.split("/").str[0]).all()


def test_class_folders_are_matched_to_the_models_outputs_by_name(zoo: bool) -> None:
    assert label_map(("Dog", "cat"), zoo_choice("normal")) == [1, 0]
    with pytest.raises(ValueError, match="class folder 'bird' is not a class of model 'Normal' \\(its classes: cat, dog\\)"):
        label_map(("bird", "cat"), zoo_choice("normal"))


def test_the_truth_reaches_the_model_in_its_own_indices(tmp_path: Path, zoo: bool) -> None:
    """A model that always answers class 1 ("dog") is right on the dogs only, whatever the folder order."""

    class AlwaysDog(torch.nn.Module):
        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return torch.tensor([[0.0, 5.0]]).expand(len(images), 2) + 0 * images.mean()

    import dashboard.common.dataset_upload as glue

    images = load_mask_folders(folder(tmp_path / "set", per_class=2))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(glue, "audit_model", lambda choice: AlwaysDog())
        table = audit_dataset({frame_key(Preprocess()): images}, [zoo_choice("normal")], "gradient_squared", None,
                              lambda *_: None)
    assert (table["prediction"] == "dog").all()
    assert ((table["truth"] == "dog") == (table["truth"] == table["prediction"])).all()
    assert table["share"].isna().all()  # no masks, no box: no region
