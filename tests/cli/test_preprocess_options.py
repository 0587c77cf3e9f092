"""`--input-size`, `--resize`, `--normalize`, `--classes` and `--class` on explain, occlusion and
audit, with a 224-px ImageNet-normalised TorchScript model made here (never committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from saliency_core.cli import main
from saliency_core.data.preprocess import Preprocess
from saliency_core.methods import explain
from saliency_core.render import scale_map

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Net224(nn.Module):
    """A Linear layer sized for 224x224 inputs: any other input size fails."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=8, stride=8)
        self.fc = nn.Linear(4 * 28 * 28, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.tanh(self.conv(x)).flatten(1))


def _model(path: Path, classes: int) -> Path:
    torch.manual_seed(classes)
    torch.jit.trace(Net224(classes).eval(), torch.rand(1, 3, 224, 224)).save(str(path))
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    photo = tmp_path / "cat.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (260, 300, 3), dtype=np.uint8)).save(photo)
    return _model(tmp_path / "m2.pt", 2), _model(tmp_path / "m5.pt", 5), photo


def test_explain_a_224_imagenet_model_writes_maps_on_the_photo(files: tuple[Path, Path, Path], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    m2, _, photo = files
    out = tmp_path / "maps"
    assert main(["explain", "--model", str(m2), "--method", "vanilla_gradient", "--input-size", "224",
                 "--normalize", "imagenet", "--out", str(out), str(photo)]) == 0
    with Image.open(out / "cat_vanilla_gradient.png") as frame_map:
        assert frame_map.size == (224, 224)
        written = np.asarray(frame_map).astype(int)
    # the model ran behind the ImageNet normalisation in its own process: as the library computes it
    pre = Preprocess.imagenet()
    with Image.open(photo) as image:
        x = pre.frame(image)[None]
    expected = explain(torch.jit.load(str(m2)), x, "vanilla_gradient", preprocess=pre).maps[0]
    assert np.abs(written - (scale_map(expected, clip_percentile=99.0) * 255 + 0.5).astype(int)).max() <= 1
    with Image.open(out / "cat_vanilla_gradient_photo.png") as on_photo:
        assert on_photo.size == (300, 260) and on_photo.mode == "RGB"
    # the wrong size is a one-line error, not a crash
    assert main(["explain", "--model", str(m2), "--input-size", "128", "--out", str(out), str(photo)]) == 2
    assert "128" in capsys.readouterr().err


def test_explain_the_chosen_class_of_a_five_class_model(files: tuple[Path, Path, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    _, m5, photo = files
    base = ["explain", "--model", str(m5), "--method", "vanilla_gradient", "--input-size", "224",
            "--normalize", "0.5,0.5,0.5/0.25,0.25,0.25", "--out", str(tmp_path / "maps"), str(photo)]
    assert main([*base, "--class", "3"]) == 0
    assert ": class 3 (p=" in capsys.readouterr().out
    assert main([*base, "--classes", "ant,bee,cat,dog,eel", "--class", "dog"]) == 0
    assert ": class 3 (dog) (p=" in capsys.readouterr().out
    assert main([*base, "--classes", "ant,bee,cat,dog,eel", "--class", "fox"]) == 2
    assert "--class: class 'fox' is neither a class name" in capsys.readouterr().err
    assert main([*base, "--normalize", "zscore"]) == 2
    assert "--normalize must be none, imagenet or MEAN,MEAN,MEAN/STD,STD,STD" in capsys.readouterr().err


def test_occlusion_with_stretch_and_a_class(files: tuple[Path, Path, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _, m5, photo = files
    out = tmp_path / "occ"
    assert main(["occlusion", "--model", str(m5), "--input-size", "224", "--resize", "stretch", "--normalize",
                 "imagenet", "--class", "2", "--window", "56", "--stride", "56", "--region", "0,0,112,112",
                 "--out", str(out), str(photo)]) == 0
    line = capsys.readouterr().out
    assert "explaining class 2" in line and "share in region" in line
    with Image.open(out / "cat_occlusion.png") as picture:
        assert picture.size == (300, 260)


def test_occlusion_region_in_the_photos_pixels(files: tuple[Path, Path, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    m2, _, photo = files
    # 300x260 photo, 224 crop: resized to 258x224, columns 17..240 kept; photo box 0,0,150,130 is
    # frame pixels 0..111 in both directions (the left 17 columns fall outside the crop)
    base = ["occlusion", "--model", str(m2), "--input-size", "224", "--normalize", "imagenet",
            "--window", "56", "--stride", "56", str(photo)]
    assert main([*base, "--region", "0,0,112,112"]) == 0
    in_frame = capsys.readouterr().out
    assert main([*base, "--region", "0,0,150,130", "--region-in", "photo"]) == 0
    assert capsys.readouterr().out == in_frame and "share in region" in in_frame
    assert main([*base, "--region", "0,0,10,260", "--region-in", "photo"]) == 2
    assert "outside the part of the 300x260 photo the model sees" in capsys.readouterr().err


def test_audit_a_224_imagenet_model(files: tuple[Path, Path, Path], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    m2, _, photo = files
    for cls in ("cat", "dog"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        Image.open(photo).save(tmp_path / "data" / cls / "a.png")
    argv = ["audit", "--model", str(m2), "--method", "vanilla_gradient", "--data", str(tmp_path / "data"),
            "--input-size", "224", "--normalize", "imagenet", "--region", "0,0,64,64", "--no-progress"]
    assert main([*argv, "--class", "1"]) == 0
    assert "vanilla_gradient" in capsys.readouterr().out
    assert main([*argv, "--resize", "stretch"]) == 2
    assert "--resize stretch" in capsys.readouterr().err
