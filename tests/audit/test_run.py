"""The audit pipeline: one row per image x model x method, resumable, atomic, CSV and Parquet."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from saliency_core.audit import read_table, run, write_table
from saliency_core.metrics import greyscale

from _audit_fixtures import BOX, CountingExplain, MeanColour, make_items


def test_one_row_per_image_model_and_method(counting_explain: CountingExplain) -> None:
    models = {"a": MeanColour(), "b": MeanColour()}
    table = run(models, ["m1", "m2", "m3"], make_items(10), batch_size=4, progress=False,
                explain=counting_explain)
    assert len(table) == 10 * 2 * 3
    assert not table.duplicated(["id", "model", "method"]).any()
    assert counting_explain.images == 10 * 2 * 3


def test_rows_carry_truth_prediction_share_and_dataset_columns(counting_explain: CountingExplain) -> None:
    table = run([MeanColour()], ["m"], make_items(8), progress=False, explain=counting_explain)
    assert table["truth"].tolist() == [i % 2 for i in range(8)]
    marked = table[table["watermarked"]]
    # The maps are the red channel: the bright patch fills the top 0.5% (one pixel) -> share 1.
    assert (marked["share"] == 1.0).all() and (marked["n"] == 1.0).all()
    np.testing.assert_allclose(marked["m"], 1.0)
    assert (marked["prediction"] == 1).all()
    probabilities = MeanColour()(make_items(8, batch=8)[0]["images"]).softmax(1)
    np.testing.assert_allclose(table["confidence"], probabilities.max(1).values.numpy(), rtol=1e-6)


def test_images_without_a_region_get_nan_statistics(counting_explain: CountingExplain) -> None:
    items = make_items(4)
    items[0]["boxes"][1] = torch.tensor([math.nan] * 4)  # image 001 has no artefact box
    table = run([MeanColour()], ["m"], items, progress=False, explain=counting_explain).set_index("id")
    assert math.isnan(table.loc["001", "share"]) and math.isnan(table.loc["001", "m"])
    assert not table.drop(index="001")["share"].isna().any()


def test_a_fixed_region_applies_to_every_image(counting_explain: CountingExplain) -> None:
    items = [{k: v for k, v in item.items() if k != "boxes"} for item in make_items(4)]
    table = run([MeanColour()], ["m"], items, regions=BOX, progress=False, explain=counting_explain)
    assert not table["share"].isna().any()


@pytest.mark.parametrize("region", [[0, 0, math.inf, math.inf], [math.nan, 0, 4, 4]])
def test_a_fixed_region_that_is_not_finite_is_named(counting_explain: CountingExplain, region: list[float]) -> None:
    with pytest.raises(ValueError, match="regions must be finite"):
        run([MeanColour()], ["m"], make_items(2), regions=region, progress=False, explain=counting_explain)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_second_run_computes_nothing_and_keeps_the_rows(
    tmp_path: Path, suffix: str, counting_explain: CountingExplain
) -> None:
    out = tmp_path / f"results{suffix}"
    first = run({"a": MeanColour()}, ["m1", "m2"], make_items(6), out=out, progress=False,
                explain=counting_explain)
    calls = counting_explain.calls
    second = run({"a": MeanColour()}, ["m1", "m2"], make_items(6), out=out, progress=False,
                 explain=counting_explain)
    assert counting_explain.calls == calls  # nothing recomputed
    assert len(second) == len(first) == 12
    saved = read_table(out)
    assert saved is not None and saved["id"].tolist() == first["id"].tolist()  # "000" stays a string
    pd.testing.assert_frame_equal(saved[["id", "truth", "share"]], first[["id", "truth", "share"]],
                                  check_dtype=False)


def test_resume_computes_only_missing_shards_and_models(tmp_path: Path, counting_explain: CountingExplain) -> None:
    out = tmp_path / "results.parquet"
    run({"a": MeanColour()}, ["m"], make_items(6)[:1], out=out, progress=False, explain=counting_explain,
        shard_size=4)
    counting_explain.images = 0
    table = run({"a": MeanColour(), "b": MeanColour()}, ["m"], make_items(6), out=out,
                progress=False, explain=counting_explain, shard_size=4)
    assert counting_explain.images == 2 + 6  # model a: the new shard (images 4, 5); model b: all six
    assert len(table) == 12 and len(read_table(out)) == 12  # type: ignore[arg-type]


def test_a_crash_keeps_the_rows_computed_so_far(tmp_path: Path) -> None:
    out = tmp_path / "results.csv"

    class Crashing(CountingExplain):
        def __call__(self, model: nn.Module, images: torch.Tensor, method: str):  # type: ignore[no-untyped-def]
            if self.calls == 2:
                raise RuntimeError("simulated crash")
            return super().__call__(model, images, method)

    with pytest.raises(RuntimeError, match="simulated crash"):
        run([MeanColour()], ["m"], make_items(12), out=out, progress=False, explain=Crashing(), batch_size=4,
            shard_size=4)
    saved = read_table(out)
    assert saved is not None and len(saved) == 8  # the two finished shards
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv", "results.csv.parts"]
    parts = sorted(p.name for p in (tmp_path / "results.csv.parts").iterdir())
    assert [p.split("-")[:2] for p in parts if p.startswith("part-")] == [["part", "00000"], ["part", "00001"]]
    assert not [p for p in parts if p.startswith(".")]  # no temp file left


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "results.csv"
    original = pd.DataFrame({"id": ["1"], "model": ["a"], "method": ["m"], "share": [0.5]})
    write_table(original, out)
    before = out.read_bytes()

    def broken(self: pd.DataFrame, path: Path, **kwargs: object) -> None:
        Path(path).write_text("id,mod")  # half a file, then the disk fills up
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        write_table(pd.concat([original] * 3), out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_flip_columns_for_each_transform(counting_explain: CountingExplain) -> None:
    table = run([MeanColour()], ["m"], make_items(8), transforms={"identity": lambda x: x,
                "grey": greyscale}, progress=False, explain=counting_explain)
    assert not table["flip_identity"].any()
    assert table.loc[table["prediction"] == 1, "flip_grey"].all()  # red images turn grey: class 0


def test_tuples_single_samples_and_folders_are_accepted(tmp_path: Path, counting_explain: CountingExplain) -> None:
    images = torch.rand(5, 3, 8, 8)
    tuples = [(["x", "y"], images[:2], torch.tensor([0, 1])), (["z"], images[2:3], torch.tensor([1]))]
    assert len(run([MeanColour()], ["m"], tuples, progress=False, explain=counting_explain)) == 3
    singles = [{"image": image, "label": 0} for image in images]
    table = run([MeanColour()], ["m"], singles, batch_size=2, progress=False, explain=counting_explain)
    assert table["id"].tolist() == ["0", "1", "2", "3", "4"]
    for name, colour in [("cat", (200, 0, 0)), ("dog", (0, 200, 0))]:
        (tmp_path / name).mkdir()
        Image.new("RGB", (20, 10), colour).save(tmp_path / name / "a.png")
    table = run([MeanColour()], ["m"], tmp_path, image_size=8, progress=False, explain=counting_explain)
    assert table["id"].tolist() == ["cat/a.png", "dog/a.png"] and table["truth"].tolist() == [0, 1]


def test_the_real_explain_runs_end_to_end(tiny_cnn: nn.Module) -> None:
    table = run({"tiny": tiny_cnn}, ["vanilla_gradient"], make_items(3), progress=False)
    assert len(table) == 3 and table["share"].between(0, 1).all()


def test_unknown_methods_fail_before_any_work(tiny_cnn: nn.Module) -> None:
    with pytest.raises(ValueError, match="unknown saliency methods \\['nope'\\]"):
        run([tiny_cnn], ["vanilla_gradient", "nope"], make_items(3), progress=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"out": "results.txt"}, "parquet"), ({"regions": (0, 0, 9, 4)}, "outside"),
     ({"methods": []}, "methods"), ({"percent": 0}, "percent")],
)
def test_bad_input_raises_value_error(
    tmp_path: Path, kwargs: dict[str, object], message: str, counting_explain: CountingExplain
) -> None:
    args: dict[str, object] = {"methods": ["m"], "progress": False, "explain": counting_explain}
    args.update(kwargs)
    if "out" in args:
        args["out"] = tmp_path / str(args["out"])
    items = [{k: v for k, v in item.items() if k != "boxes"} for item in make_items(4)]
    with pytest.raises(ValueError, match=message):
        run([MeanColour()], dataset=items, **args)  # type: ignore[arg-type]


def test_a_torch_dataloader_streams_with_a_progress_bar(
    counting_explain: CountingExplain, capsys: pytest.CaptureFixture[str]
) -> None:
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(torch.rand(7, 3, 8, 8), torch.arange(7) % 2), batch_size=3)
    table = run([MeanColour()], ["m"], loader, batch_size=4, explain=counting_explain)
    assert table["id"].tolist() == [str(i) for i in range(7)]
    assert counting_explain.calls == 2  # re-chunked to batch_size
    assert "7/7" in capsys.readouterr().err


def test_an_image_set_is_audited_with_file_ids_and_splits(counting_explain: CountingExplain) -> None:
    from dataclasses import dataclass

    @dataclass
    class FakeImageSet:  # the shape of saliency_core.data.ImageSet
        frames: torch.Tensor
        labels: torch.Tensor
        files: tuple[str, ...]
        splits: tuple[str, ...]

        def images(self, index: list[int]) -> torch.Tensor:
            return self.frames[index].float() / 255

    frames = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8)
    data = FakeImageSet(frames, torch.tensor([0, 0, 1, 1, 1]), tuple(f"f{i}.jpg" for i in range(5)),
                        ("train", "test", "test", "val", "test"))
    table = run([MeanColour()], ["m"], data, batch_size=2, progress=False, explain=counting_explain)
    assert table["id"].tolist() == list(data.files)
    assert table["split"].tolist() == list(data.splits)
    assert table["truth"].tolist() == [0, 0, 1, 1, 1]


def test_class_folders_are_read(tmp_path: Path, counting_explain: CountingExplain) -> None:
    for name, colour in [("cat", (200, 0, 0)), ("dog", (0, 200, 0))]:
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.new("RGB", (12, 10), colour).save(tmp_path / name / f"{i}.png")
    table = run([MeanColour()], ["m"], tmp_path, image_size=8, progress=False, explain=counting_explain)
    assert table["id"].tolist() == ["cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png"]
    assert table["truth"].tolist() == [0, 0, 1, 1]
    assert table["prediction"].tolist() == [1, 1, 0, 0]  # red cats, green dogs


def test_a_dataset_without_images_is_a_value_error_not_an_empty_table(
    tmp_path: Path, counting_explain: CountingExplain
) -> None:
    root = tmp_path / "photos"
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
    with pytest.raises(ValueError, match="no images found"):
        run([MeanColour()], ["vanilla_gradient"], root, explain=counting_explain, progress=False)
    with pytest.raises(ValueError, match="no images found"):
        run([MeanColour()], ["vanilla_gradient"], [], explain=counting_explain, progress=False)


# --------------------------------------------------------------------------- hostile input: labels and pixel range


def _with_label(label: int, at: int = 2) -> list[dict[str, object]]:
    items = make_items(6)
    items[at // 4]["labels"] = items[at // 4]["labels"].clone()  # type: ignore[union-attr]
    items[at // 4]["labels"][at % 4] = label  # type: ignore[index]
    return items


@pytest.mark.parametrize("label", [7, 2, -1])
def test_a_label_outside_the_models_classes_is_refused_naming_label_image_and_k(
    tmp_path: Path, label: int, counting_explain: CountingExplain
) -> None:
    out = tmp_path / "audit.csv"
    with pytest.raises(ValueError) as caught:
        run({"mean": MeanColour()}, ["m"], _with_label(label), out=out, progress=False, explain=counting_explain)
    assert str(caught.value) == (f"label {label} of image 002 is not a class of model mean "
                                 "(K = 2: labels 0 to 1)")
    assert not out.exists()  # no row written for it


def test_a_label_outside_the_classes_is_refused_by_the_real_explain_too(tiny_cnn: nn.Module) -> None:
    with pytest.raises(ValueError, match=r"^label 7 of image 002 is not a class of model tiny \(K = 2"):
        run({"tiny": tiny_cnn}, ["vanilla_gradient"], _with_label(7), progress=False)


def _pixels(case: str) -> torch.Tensor:
    """Dataset images gone wrong, as careless loaders make them."""
    images = torch.cat([item["images"] for item in make_items(6)])  # type: ignore[misc]
    if case == "0..255":
        return (images * 255).round()
    if case == "normalised":
        mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
        return (images - mean.view(3, 1, 1)) / std.view(3, 1, 1)
    images[5, 1, 2, 2] = 255.0  # one bad pixel in image 005
    return images


@pytest.mark.parametrize(
    ("case", "message"),
    [("0..255", r"^image 000 must be in \[0, 1\]: values up to \d+ — divide by 255$"),
     ("normalised", r"^image 000 must be in \[0, 1\]: negative values — pass unnormalised pixels, "
                    r"the model normalises$"),
     ("one bad pixel", r"^image 005 must be in \[0, 1\]: values up to 255 — divide by 255$")],
)
def test_images_outside_the_unit_range_are_refused_naming_the_image(
    tmp_path: Path, case: str, message: str, counting_explain: CountingExplain
) -> None:
    images = _pixels(case)
    items = [{"ids": [f"{i:03d}" for i in range(6)], "images": images, "labels": torch.arange(6) % 2}]
    out = tmp_path / "audit.parquet"
    with pytest.raises(ValueError, match=message):
        run([MeanColour()], ["m"], items, out=out, progress=False, explain=counting_explain)
    assert counting_explain.calls == 0 and not out.exists()  # refused before any work or row


def test_uint8_images_are_refused_rather_than_read_as_0_to_255(counting_explain: CountingExplain) -> None:
    frames = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]: values up to \d+ — divide by 255"):
        run([MeanColour()], ["m"], [(frames, torch.tensor([0, 1, 0, 1]))], progress=False, explain=counting_explain)
