"""Hook hygiene: the model is left exactly as it was, nothing leaks, threads don't interfere."""

from __future__ import annotations

import threading

import pytest
import torch
from method_models import SmallCNN
from torch import nn

from saliency_core.methods import METHODS, explain

HOOKED = ("guided_backprop", "grad_cam", "rectified_gradient", "rectified_gradient_unbiased")
FAST = {"smoothgrad": {"samples": 2}, "smoothgrad_squared": {"samples": 2}, "integrated_gradients": {"steps": 2}}


def hook_count(model: nn.Module) -> int:
    dicts = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return sum(len(getattr(module, name)) for module in model.modules() for name in dicts)


def snapshot(model: nn.Module) -> dict[str, object]:
    return {
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "inplace": [m.inplace for m in model.modules() if isinstance(m, nn.ReLU)],
        "training": [m.training for m in model.modules()],
        "modules": [(name, type(m)) for name, m in model.named_modules()],
    }


def assert_unchanged(model: nn.Module, before: dict[str, object]) -> None:
    after = snapshot(model)
    assert after["inplace"] == before["inplace"]
    assert after["training"] == before["training"]
    assert after["modules"] == before["modules"]
    for key, value in before["state"].items():  # type: ignore[union-attr]
        assert torch.equal(after["state"][key], value), key  # type: ignore[index]
    assert hook_count(model) == 0
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("method", [m for m in METHODS if m != "occlusion"])
def test_every_method_leaves_the_model_as_it_was(tiny_cnn: nn.Module, images: torch.Tensor, method: str) -> None:
    before = snapshot(tiny_cnn)
    explain(tiny_cnn, images, method, **FAST.get(method, {}))
    assert_unchanged(tiny_cnn, before)


class FailingHead(SmallCNN):
    """Raises in the middle of the forward pass, after the ReLU hooks have fired."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        if x.requires_grad:  # let explain's validation forward pass (no_grad) through
            raise RuntimeError("boom")
        return self.head(x.mean(dim=(2, 3)))


@pytest.mark.parametrize("method", HOOKED)
def test_hooks_are_removed_when_the_forward_pass_raises(method: str, images: torch.Tensor) -> None:
    model = FailingHead().eval()
    before = snapshot(model)
    with pytest.raises(ValueError, match="boom"):
        explain(model, images, method, layer="conv2") if method == "grad_cam" else explain(model, images, method)
    assert_unchanged(model, before)


def test_thousands_of_calls_leak_no_hooks(small_cnn: SmallCNN) -> None:
    x = torch.rand(1, 3, 4, 4)
    for i in range(1000):
        explain(small_cnn, x, HOOKED[i % len(HOOKED)])
    assert hook_count(small_cnn) == 0
    assert not torch.nn.modules.module._global_forward_hooks
    assert not torch.nn.modules.module._global_backward_hooks


@pytest.mark.parametrize("method", ["guided_backprop", "rectified_gradient", "grad_cam"])
def test_two_threads_explaining_two_models_get_the_single_threaded_answers(method: str) -> None:
    torch.manual_seed(1)
    models = [SmallCNN().eval(), SmallCNN(inplace=False).eval()]
    x = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(2))
    expected = [explain(model, x, method).attributions for model in models]
    barrier = threading.Barrier(2)
    failures: list[str] = []

    def work(index: int) -> None:
        barrier.wait()
        for _ in range(40):
            got = explain(models[index], x, method).attributions
            if not torch.allclose(got, expected[index], atol=1e-6):
                failures.append(f"model {index} differs")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert all(hook_count(model) == 0 for model in models)


def test_two_threads_sharing_one_model_do_not_see_each_others_hooks() -> None:
    torch.manual_seed(3)
    model = SmallCNN().eval()
    x = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(4))
    guided = explain(model, x, "guided_backprop").attributions
    plain = explain(model, x, "vanilla_gradient").attributions
    barrier = threading.Barrier(2)
    failures: list[str] = []

    def work(method: str, expected: torch.Tensor) -> None:
        barrier.wait()
        for _ in range(40):
            if not torch.allclose(explain(model, x, method).attributions, expected, atol=1e-6):
                failures.append(method)

    threads = [threading.Thread(target=work, args=a) for a in (("guided_backprop", guided), ("vanilla_gradient", plain))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_train_mode_is_left_to_the_caller() -> None:
    model = SmallCNN().train()
    explain(model, torch.rand(1, 3, 8, 8), "guided_backprop")
    assert all(m.training for m in model.modules())


def test_a_hook_context_that_fails_half_way_through_registration_removes_what_it_registered(
    small_cnn: SmallCNN,
) -> None:
    from collections.abc import Iterator

    from torch.utils.hooks import RemovableHandle

    from saliency_core.methods.base import HookContext

    class HalfWay(HookContext):
        def register(self, model: nn.Module) -> Iterator[RemovableHandle]:
            yield model.conv1.register_forward_hook(lambda *args: None)
            yield model.conv2.register_forward_hook(lambda *args: None)
            raise RuntimeError("registration failed")

    with pytest.raises(RuntimeError, match="registration failed"):
        with HalfWay(small_cnn):
            pass
    assert hook_count(small_cnn) == 0
