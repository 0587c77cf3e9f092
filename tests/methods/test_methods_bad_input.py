"""Bad input is a ValueError that names the problem."""

from __future__ import annotations

import pytest
import torch
from method_models import SHAPE, Linear, SmallCNN
from torch import nn

from saliency_core.methods import explain

# torch.jit is deprecated upstream but still what users hand us.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Reshaper(nn.Module):
    """Wraps a model and reshapes its logits into a wrong shape."""

    def __init__(self, model: nn.Module, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.model, self.shape = model, shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).reshape(*self.shape)


@pytest.mark.parametrize("shape", [(-1,), (2, 3, 1), (3, 2)])
def test_logits_that_are_not_batch_by_classes_are_rejected(small_cnn: SmallCNN, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"logits of shape \[B,K\]"):
        explain(Reshaper(small_cnn, shape), torch.rand(2, 3, 8, 8), "vanilla_gradient")


def test_non_tensor_output_is_rejected(small_cnn: SmallCNN) -> None:
    class Tuple(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return (small_cnn(x),)

    with pytest.raises(ValueError, match="logits tensor"):
        explain(Tuple(), torch.rand(2, 3, 8, 8), "vanilla_gradient")


@pytest.mark.parametrize("target", [3, -1, [0, 5], torch.tensor([0, 3])])
def test_target_out_of_range_is_rejected(small_cnn: SmallCNN, target: object) -> None:
    with pytest.raises(ValueError, match="out of range"):
        explain(small_cnn, torch.rand(2, 3, 8, 8), "gradient_x_input", target=target)


@pytest.mark.parametrize("target", [[0, 1, 2], torch.tensor([[0, 1]]), 1.0, torch.tensor([0.0, 1.0]), "cat", True])
def test_malformed_target_is_rejected(small_cnn: SmallCNN, target: object) -> None:
    with pytest.raises(ValueError, match="target"):
        explain(small_cnn, torch.rand(2, 3, 8, 8), "vanilla_gradient", target=target)


def test_rgba_images_are_rejected(small_cnn: SmallCNN) -> None:
    with pytest.raises(ValueError, match="RGBA"):
        explain(small_cnn, torch.rand(2, 4, 8, 8), "vanilla_gradient")


@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 2, 3, 8, 8), (8, 8)])
def test_images_that_are_not_4d_are_rejected(small_cnn: SmallCNN, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="4-D"):
        explain(small_cnn, torch.rand(*shape), "vanilla_gradient")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_images_are_rejected(small_cnn: SmallCNN, bad: float) -> None:
    x = torch.rand(2, 3, 8, 8)
    x[1, 2, 3, 4] = bad
    with pytest.raises(ValueError, match="NaN or Inf"):
        explain(small_cnn, x, "smoothgrad", samples=2)


def test_non_float32_and_empty_images_are_rejected(small_cnn: SmallCNN) -> None:
    with pytest.raises(ValueError, match="float32"):
        explain(small_cnn, torch.rand(2, 3, 8, 8, dtype=torch.float64), "vanilla_gradient")
    with pytest.raises(ValueError, match="float32"):
        explain(small_cnn, torch.zeros(2, 3, 8, 8, dtype=torch.uint8), "vanilla_gradient")
    with pytest.raises(ValueError, match="non-empty"):
        explain(small_cnn, torch.rand(0, 3, 8, 8), "vanilla_gradient")
    with pytest.raises(ValueError, match="torch.Tensor"):
        explain(small_cnn, [[0.0]], "vanilla_gradient")  # type: ignore[arg-type]


def test_grayscale_is_rejected_by_an_rgb_model_and_accepted_by_a_grayscale_one(small_cnn: SmallCNN) -> None:
    gray = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="grayscale images of shape"):
        explain(small_cnn, gray, "vanilla_gradient")
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    model(gray)  # materialise the lazy layer
    exp = explain(model.eval(), gray, "guided_backprop")
    assert exp.attributions.shape == (2, 1, 8, 8) and exp.maps.shape == (2, 8, 8)


def test_wrong_image_size_for_a_fixed_size_model_is_rejected(linear_model: Linear) -> None:
    with pytest.raises(ValueError, match="failed on images of shape"):
        explain(linear_model, torch.rand(2, SHAPE[0], 16, 16), "integrated_gradients")


def test_unknown_method_and_unknown_option_are_rejected(small_cnn: SmallCNN) -> None:
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match="unknown saliency method 'lime'"):
        explain(small_cnn, x, "lime")
    with pytest.raises(ValueError, match="stdev"):
        explain(small_cnn, x, "vanilla_gradient", stdev=0.1)
    with pytest.raises(ValueError, match=r"unknown saliency method \['vanilla_gradient'\]"):
        explain(small_cnn, x, ["vanilla_gradient"])  # type: ignore[arg-type]


def test_a_model_that_is_not_callable_is_named() -> None:
    with pytest.raises(ValueError, match="model must be a callable"):
        explain(None, torch.rand(1, 3, 8, 8), "vanilla_gradient")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "options", "match"),
    [
        ("integrated_gradients", {"steps": 1}, "steps"),
        ("integrated_gradients", {"baseline": "white"}, "baseline"),
        ("integrated_gradients", {"baseline": torch.zeros(5, 5)}, "broadcast"),
        ("smoothgrad", {"samples": 0}, "samples"),
        ("smoothgrad", {"batch_size": 0}, "batch_size"),
        ("smoothgrad", {"stdev_spread": -0.1}, "stdev_spread"),
        ("smoothgrad", {"noise": torch.zeros(2, 3, 8, 8)}, "noise"),
        ("rectified_gradient", {"q": 101}, "percentile"),
        ("grad_cam", {"layer": "nope"}, "no submodule named 'nope'"),
        ("grad_cam", {"layer": nn.Conv2d(3, 3, 1)}, "not a submodule"),
        ("grad_cam", {"layer": "head"}, "4-D output"),
    ],
)
def test_bad_method_options_are_rejected(small_cnn: SmallCNN, method: str, options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        explain(small_cnn, torch.rand(2, 3, 8, 8), method, **options)


@pytest.mark.parametrize("method", ["guided_backprop", "grad_cam", "rectified_gradient", "rectified_gradient_unbiased"])
def test_hook_based_methods_explain_that_torchscript_cannot_be_hooked(small_cnn: SmallCNN, method: str) -> None:
    scripted = torch.jit.trace(small_cnn, torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="TorchScript"):
        explain(scripted, torch.rand(2, 3, 8, 8), method)


def test_hook_based_methods_need_relu_modules() -> None:
    model = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(72, 2)).eval()
    with pytest.raises(ValueError, match="nn.ReLU"):
        explain(model, torch.rand(2, 3, 8, 8), "guided_backprop")


@pytest.mark.parametrize(
    "method", ["vanilla_gradient", "gradient_x_input", "smoothgrad", "integrated_gradients", "competitive_gradient_x_input"]
)
def test_gradient_methods_work_on_torchscript_models(small_cnn: SmallCNN, method: str) -> None:
    x = torch.rand(2, 3, 8, 8)
    scripted = torch.jit.script(small_cnn)
    options = {"seed": 0, "samples": 3} if method == "smoothgrad" else ({"steps": 4} if "integrated" in method else {})
    torch.testing.assert_close(
        explain(scripted, x, method, **options).attributions, explain(small_cnn, x, method, **options).attributions
    )


def test_target_may_be_an_int_a_numpy_int_a_list_or_a_tensor(small_cnn: SmallCNN) -> None:
    import numpy as np

    x = torch.rand(2, 3, 8, 8)
    for target in (2, np.int64(2), [2, 2], (np.int32(2), 2), torch.tensor(2), torch.tensor([2, 2])):
        assert explain(small_cnn, x, "vanilla_gradient", target=target).target.tolist() == [2, 2]


@pytest.mark.parametrize("method", ["vanilla_gradient", "competitive_gradient_x_input", "grad_cam"])
def test_a_model_that_detaches_its_input_is_rejected(small_cnn: SmallCNN, method: str) -> None:
    class Detached(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = small_cnn

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return self.inner(x)

    with pytest.raises(ValueError, match="no gradient"):
        explain(Detached(), torch.rand(2, 3, 8, 8), method)


@pytest.mark.parametrize("seed", [1.5, "1", True, 2 ** 64])
@pytest.mark.parametrize("method, options", [("smoothgrad", {"samples": 2}),
                                             ("integrated_gradients", {"steps": 2, "baseline": "noise"})])
def test_a_seed_that_is_not_an_integer_is_a_value_error_naming_seed(
    small_cnn: SmallCNN, method: str, options: dict, seed: object
) -> None:
    with pytest.raises(ValueError, match="seed"):
        explain(small_cnn, torch.rand(1, *SHAPE), method, seed=seed, **options)


def test_an_integer_seed_still_fixes_the_noise(small_cnn: SmallCNN) -> None:
    import numpy as np

    x = torch.rand(1, *SHAPE)
    one = explain(small_cnn, x, "smoothgrad", samples=2, seed=np.int64(3)).attributions
    two = explain(small_cnn, x, "smoothgrad", samples=2, seed=3).attributions
    torch.testing.assert_close(one, two)


@pytest.mark.parametrize("sigma", [float("inf"), float("nan"), 0.0, -1.0, "abc", True])
def test_blur_sigma_must_be_a_finite_positive_number(small_cnn: SmallCNN, sigma: object) -> None:
    with pytest.raises(ValueError, match="blur_sigma"):
        explain(small_cnn, torch.rand(1, *SHAPE), "integrated_gradients", steps=2, baseline="blurred",
                blur_sigma=sigma)


@pytest.mark.timeout(60)
def test_a_huge_blur_sigma_is_fast_and_still_the_edge_replicated_gaussian_blur() -> None:
    import time

    import numpy as np
    from scipy.ndimage import gaussian_filter

    from saliency_core.methods.integrated_gradients import gaussian_blur

    x = torch.rand(2, 3, 12, 10, generator=torch.Generator().manual_seed(5))
    for sigma in (4.0, 50.0):  # kernel radius 12 and 150: wider than the 12x10 image
        expected = gaussian_filter(x.double().numpy(), sigma=(0, 0, sigma, sigma), mode="nearest", truncate=3.0)
        torch.testing.assert_close(gaussian_blur(x, sigma), torch.from_numpy(expected).float(), atol=1e-5, rtol=1e-5)
    start = time.perf_counter()
    out = gaussian_blur(torch.rand(1, 3, 128, 128), 1e6)
    assert time.perf_counter() - start < 5.0
    # σ → ∞ with edge replication: all of the kernel's mass lands on the replicated edges, so each row,
    # then each column, becomes the mean of its two end pixels.
    y = torch.rand(1, 1, 6, 7, generator=torch.Generator().manual_seed(6))
    rows = (y[..., :1] + y[..., -1:]) / 2
    limit = (rows[..., :1, :] + rows[..., -1:, :]) / 2
    torch.testing.assert_close(gaussian_blur(y, 1e9), limit.expand_as(y), atol=1e-4, rtol=0)
    assert torch.isfinite(out).all()


def test_integrated_gradients_with_a_huge_blur_sigma_returns(small_cnn: SmallCNN) -> None:
    result = explain(small_cnn, torch.rand(1, *SHAPE), "integrated_gradients", steps=2, baseline="blurred",
                     blur_sigma=1e6)
    assert torch.isfinite(result.attributions).all()


def test_a_scripted_model_failing_on_the_images_gives_one_line_not_its_traceback() -> None:
    class Flat(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(3 * 8 * 8, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x.flatten(1))

    scripted = torch.jit.script(Flat())
    with pytest.raises(ValueError) as caught:
        explain(scripted, torch.rand(1, 3, 16, 16), "vanilla_gradient")
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert "failed on images of shape (1, 3, 16, 16)" in message and "mat1 and mat2" in message
