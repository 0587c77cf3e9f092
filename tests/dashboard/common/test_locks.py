"""One lock per shared model instance; saliency is computed while holding it."""

from __future__ import annotations

import torch

from dashboard.common.locks import explain_locked, lock_of


def test_each_model_has_one_lock_of_its_own() -> None:
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    assert lock_of(a) is lock_of(a)
    assert lock_of(a) is not lock_of(b)


def test_explain_locked_holds_the_models_lock(tiny_cnn: torch.nn.Module) -> None:
    held: list[bool] = []
    tiny_cnn.register_forward_hook(lambda *_: held.append(lock_of(tiny_cnn).locked()))
    explain_locked(tiny_cnn, torch.rand(1, 3, 32, 32), "vanilla_gradient")
    assert held and all(held)
    assert not lock_of(tiny_cnn).locked()
