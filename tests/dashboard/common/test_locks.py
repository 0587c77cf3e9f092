"""One lock per shared model instance, one pass at a time; saliency is computed while holding them."""

from __future__ import annotations

import pytest
import torch

from dashboard.common.locks import explain_locked, lock_of


def test_each_model_has_one_lock_of_its_own() -> None:
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    assert lock_of(a) is lock_of(a)
    assert lock_of(a) is not lock_of(b)


def test_two_models_never_compute_at_once() -> None:
    """The server-wide compute lock: a thread holding one model keeps another thread out of a
    second model until it lets go (one pass at a time: memory), and it is reentrant for itself."""
    import threading

    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    entered = threading.Event()
    with lock_of(a):
        with lock_of(b):  # the same thread may hold two models (reentrant compute lock)
            pass
        other = threading.Thread(target=lambda: (lock_of(b).__enter__(), entered.set(), lock_of(b).__exit__()))
        other.start()
        assert not entered.wait(0.3)  # b is free, but a pass is running: it waits
    assert entered.wait(5)
    other.join(5)
    assert not lock_of(a).locked() and not lock_of(b).locked()


def test_explain_locked_holds_the_models_lock(tiny_cnn: torch.nn.Module) -> None:
    held: list[bool] = []
    tiny_cnn.register_forward_hook(lambda *_: held.append(lock_of(tiny_cnn).locked()))
    explain_locked(tiny_cnn, torch.rand(1, 3, 32, 32), "vanilla_gradient")
    assert held and all(held)
    assert not lock_of(tiny_cnn).locked()


@pytest.mark.parametrize("method", ["gradient_squared", "integrated_gradients"])
def test_explaining_in_chunks_equals_one_call(method: str) -> None:
    import saliency_core
    from dashboard.common.locks import CHUNK, explain_locked
    from saliency_core.zoo import DemoCNN

    torch.manual_seed(0)
    model = DemoCNN(width=8).eval()
    images = torch.rand(2 * CHUNK + 3, 3, 32, 32)
    target = torch.arange(len(images)) % 2
    whole = saliency_core.explain(model, images, method, target=target)
    chunked = explain_locked(model, images, method, target=target)
    for field in ("maps", "attributions", "target", "probabilities"):
        torch.testing.assert_close(getattr(chunked, field), getattr(whole, field), rtol=1e-4, atol=1e-6)
    assert set(chunked.extras) == set(whole.extras)
    for key, value in whole.extras.items():
        if isinstance(value, torch.Tensor) and value.dim() >= 1:
            torch.testing.assert_close(chunked.extras[key], value, rtol=1e-4, atol=1e-6)
