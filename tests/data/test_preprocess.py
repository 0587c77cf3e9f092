"""`saliency_core.data.preprocess`: input size, crop/stretch geometry and its inverse, normalisation
outside the model, class names; a 224-px ImageNet-normalised TorchScript model through explain,
occlusion and audit.run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from saliency_core.audit import run as audit_run
from saliency_core.data.preprocess import IMAGENET_MEAN, IMAGENET_STD, Normalized, Preprocess, parse_normalize
from saliency_core.methods import explain
from saliency_core.methods.occlusion import occlusion

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Net224(nn.Module):
    """A small CNN whose Linear layer is sized for 224x224 inputs: any other size fails."""

    def __init__(self, classes: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=8, stride=8)  # 224 -> 28
        self.fc = nn.Linear(4 * 28 * 28, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.tanh(self.conv(x)).flatten(1))


def scripted_224(classes: int = 2, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = Net224(classes).eval()
    return torch.jit.trace(net, torch.rand(1, 3, 224, 224))


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


# ------------------------------------------------------------------------------ geometry


def test_crop_keeps_the_centre_square_of_a_hand_computed_example() -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (4, 8, 3), dtype=np.uint8)  # 8 wide, 4 high
    pre = Preprocess(size=4)  # shorter side is already 4: no resize, columns 2..5 kept
    assert np.array_equal(pre.frame_array(Image.fromarray(pixels)), pixels[:, 2:6])
    assert pre.geometry((8, 4)) == (8, 4, 2, 0)


def test_stretch_squeezes_both_sides_of_a_hand_computed_example() -> None:
    columns = np.random.default_rng(2).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    pixels = np.repeat(columns, 2, axis=1)  # 8 wide: each column twice, so halving the width is exact
    pre = Preprocess(size=4, resize="stretch")
    assert np.array_equal(pre.frame_array(Image.fromarray(pixels)), columns)
    assert pre.geometry((8, 4)) == (4, 4, 0, 0)
    frame = pre.frame(Image.fromarray(pixels))
    assert frame.shape == (3, 4, 4) and frame.dtype == torch.float32 and float(frame.max()) <= 1.0


def test_to_original_puts_a_hot_pixel_where_the_crop_took_it_from() -> None:
    pre = Preprocess(size=4)
    hot = torch.zeros(4, 4)
    hot[1, 2] = 1.0
    # 16x8 photo: halved to 8x4, frame = columns 2..5 of that; frame (y=1, x=2) = resized (1, 4) =
    # photo rows 2-3, columns 8-9
    back = pre.to_original(hot, (16, 8), interpolation="nearest")
    assert back.shape == (8, 16)
    expected = torch.zeros(8, 16)
    expected[2:4, 8:10] = 1.0
    expected[:, :4] = expected[:, 12:] = float("nan")  # cut off by the crop
    assert torch.equal(back.isnan(), expected.isnan())
    assert torch.equal(back.nan_to_num(), expected.nan_to_num())
    smooth = pre.to_original(hot, (16, 8))  # bilinear: peaks on the same block, NaN outside alike
    assert torch.equal(smooth.isnan(), expected.isnan())
    peak = smooth.nan_to_num(-1).flatten().argmax()
    assert (int(peak) // 16, int(peak) % 16) in {(2, 8), (2, 9), (3, 8), (3, 9)}
    assert torch.equal(pre.to_original(hot, (16, 8), fill=0.0).isnan(), torch.zeros(8, 16, dtype=torch.bool))


def test_to_original_of_a_stretch_covers_the_whole_photo() -> None:
    pre = Preprocess(size=3, resize="stretch")
    hot = torch.zeros(3, 3)
    hot[1, 1] = 1.0
    back = pre.to_original(hot, (12, 6), interpolation="nearest")  # 4 columns and 2 rows per frame pixel
    expected = torch.zeros(6, 12)
    expected[2:4, 4:8] = 1.0
    assert torch.equal(back, expected)


def test_to_frame_box_maps_photo_pixels_into_the_frame() -> None:
    pre = Preprocess(size=4)
    assert pre.to_frame_box((8, 2, 10, 4), (16, 8)) == (2, 1, 3, 2)  # the hot block above
    assert pre.to_frame_box((0, 0, 16, 8), (16, 8)) == (0, 0, 4, 4)  # clipped to the frame
    with pytest.raises(ValueError, match="outside the part of the 16x8 photo the model sees"):
        pre.to_frame_box((0, 0, 3, 8), (16, 8))


def test_an_exif_rotated_photo_is_framed_and_sized_upright(tmp_path: Path) -> None:
    image = photo(8, 4)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: upright it is 4 wide, 8 high
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    with Image.open(path) as opened:
        assert Preprocess.photo_size(opened) == (4, 8)
        assert Preprocess.photo(opened).shape == (8, 4, 3)


# ------------------------------------------------------------------------------ options


def test_bad_options_are_value_errors_naming_them() -> None:
    with pytest.raises(ValueError, match="size must be from 1 to"):
        Preprocess(size=0)
    with pytest.raises(ValueError, match="resize must be 'crop' or 'stretch'"):
        Preprocess(resize="pad")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mean and std go together"):
        Preprocess(mean=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="std must be three positive numbers"):
        Preprocess(mean=(0.5, 0.5, 0.5), std=(0.2, 0.0, 0.2))
    with pytest.raises(ValueError, match="class 'fox' is neither a class name"):
        Preprocess(classes=("cat", "dog"), target="fox")
    with pytest.raises(ValueError, match="class 2 is not an output index"):
        Preprocess(classes=("cat", "dog"), target=2)
    assert Preprocess(classes=("cat", "dog"), target="dog").target == 1
    assert Preprocess(target="3").target == 3


def test_parse_normalize() -> None:
    assert parse_normalize("none") is None
    assert parse_normalize("ImageNet") == (IMAGENET_MEAN, IMAGENET_STD)
    assert parse_normalize("0.5,0.5,0.5/0.25,0.25,0.25") == ((0.5,) * 3, (0.25,) * 3)
    for bad in ("0.5,0.5/0.2,0.2,0.2", "zscore", "0.5,0.5,0.5/0,1,1"):
        with pytest.raises(ValueError, match="--normalize"):
            parse_normalize(bad)


# ------------------------------------------------------------------------------ normalisation outside


def test_normalisation_outside_equals_inside_and_gradients_are_in_pixel_space() -> None:
    torch.manual_seed(0)
    inner = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)).eval()
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    class Inside(nn.Module):  # the user's model with the normalisation baked in
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return inner((x - mean) / std)

    pre = Preprocess(size=8, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    x = torch.rand(2, 3, 8, 8)
    outside = explain(inner, x, "vanilla_gradient", target=1, preprocess=pre)
    inside = explain(Inside(), x, "vanilla_gradient", target=1)
    torch.testing.assert_close(outside.attributions, inside.attributions)
    torch.testing.assert_close(outside.probabilities, inside.probabilities)
    # analytically: d/dx f((x - m) / s) = f'(z) / s
    z = ((x - mean) / std).requires_grad_(True)
    inner(z)[:, 1].sum().backward()
    torch.testing.assert_close(outside.attributions, z.grad / std)
    # occlusion patches are pixels (0 = black) either way
    torch.testing.assert_close(occlusion(inner, x, window=4, stride=4, target=1, preprocess=pre),
                               occlusion(Inside(), x, window=4, stride=4, target=1))
    assert isinstance(pre.wrap(inner), Normalized) and Preprocess(size=8).wrap(inner) is inner


# ------------------------------------------------------------------------------ a real-size model


def test_a_224_imagenet_torchscript_model_through_explain_occlusion_and_audit(tmp_path: Path) -> None:
    model = scripted_224()
    pre = Preprocess.imagenet()  # 224, crop, ImageNet mean and std
    images = torch.stack([pre.frame(photo(300, 260, seed)) for seed in range(2)])
    assert images.shape == (2, 3, 224, 224)
    with pytest.raises(ValueError, match="images are 128x128 but the model takes 224x224"):
        explain(model, torch.rand(1, 3, 128, 128), "vanilla_gradient", preprocess=pre)
    result = explain(model, images, "gradient_squared", preprocess=pre)
    assert result.maps.shape == (2, 224, 224) and bool(result.maps.isfinite().all())
    maps = occlusion(model, images, window=32, stride=32, preprocess=pre)
    assert maps.shape == (2, 224, 224)
    on_photo = pre.to_original(result.maps[0], (300, 260))
    assert on_photo.shape == (260, 300) and bool(on_photo.isnan().any())  # the crop cut the sides off

    for cls in ("cat", "dog"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(2):
            photo(300, 260, seed=10 * i + len(cls)).save(tmp_path / "data" / cls / f"{i}.png")
    table = audit_run({"m": model}, ["vanilla_gradient"], tmp_path / "data", (0, 0, 32, 32), preprocess=pre,
                      progress=False, batch_size=2)
    assert len(table) == 4 and table["share"].notna().all()
    with pytest.raises(ValueError, match="image_size 128 disagrees with preprocess.size 224"):
        audit_run({"m": model}, ["vanilla_gradient"], tmp_path / "data", preprocess=pre, image_size=128,
                  progress=False)
    with pytest.raises(ValueError, match="stretch"):
        audit_run({"m": model}, ["vanilla_gradient"], tmp_path / "data", progress=False,
                  preprocess=Preprocess(size=224, resize="stretch"))


def test_a_five_class_model_explains_the_chosen_class_by_index_and_by_name() -> None:
    model = scripted_224(classes=5, seed=3)
    names = ("ant", "bee", "cat", "dog", "eel")
    x = Preprocess(size=224).frame(photo(224, 224))[None]
    by_index = explain(model, x, "vanilla_gradient", preprocess=Preprocess(size=224, target=3))
    by_name = explain(model, x, "vanilla_gradient", target="dog", preprocess=Preprocess(size=224, classes=names))
    plain = explain(model, x, "vanilla_gradient", target=3)
    assert by_index.target.tolist() == by_name.target.tolist() == [3]
    torch.testing.assert_close(by_index.attributions, plain.attributions)
    torch.testing.assert_close(by_name.attributions, plain.attributions)
    assert int(explain(model, x, "vanilla_gradient").target) == int(plain.probabilities.argmax())
