"""Threads explaining zoo models at the same time get exactly the single-threaded answers.

Hook-based methods (guided backprop, Grad-CAM, rectified gradient) register hooks on the model's
modules, and the exact occlusion engine traces the model with torch.fx; the dashboard runs them
from many sessions' threads at once. Here a dozen threads, started together by a barrier, run a
mix of ``sc.explain`` methods, ``sc.occlusion(mode="exact")`` and ``sc.cell_occlusion`` on
different zoo models *and* on the same shared model instances, several rounds each; every result
must equal the sequential one, and no hook may be left behind on any model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import torch
from torch import nn

import saliency_core as sc
from saliency_core import zoo

MODELS = ("normal", "watermark-100", "cages")
ROUNDS = 3
Job = Callable[[nn.Module, torch.Tensor], torch.Tensor]

JOBS: dict[str, Job] = {
    "vanilla_gradient": lambda m, x: sc.explain(m, x, "vanilla_gradient").attributions,
    "guided_backprop": lambda m, x: sc.explain(m, x, "guided_backprop").attributions,
    "grad_cam": lambda m, x: sc.explain(m, x, "grad_cam").maps,
    "rectified_gradient": lambda m, x: sc.explain(m, x, "rectified_gradient").attributions,
    "smoothgrad": lambda m, x: sc.explain(m, x, "smoothgrad", samples=4, seed=0).attributions,
    "integrated_gradients": lambda m, x: sc.explain(m, x, "integrated_gradients", steps=4).attributions,
    "competitive_gradient_x_input": lambda m, x: sc.explain(m, x, "competitive_gradient_x_input").attributions,
    "occlusion_exact": lambda m, x: sc.occlusion(m, x, window=32, stride=16, mode="exact"),
    "cell_occlusion": lambda m, x: sc.cell_occlusion(m, x, 4, [5]).cells,
}


def hook_count(model: nn.Module) -> int:
    dicts = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return sum(len(getattr(module, name)) for module in model.modules() for name in dicts)


@pytest.fixture(scope="module")
def models() -> dict[str, nn.Module]:
    try:
        loaded = {name: zoo.load(name).eval() for name in MODELS}
    except Exception as error:  # noqa: BLE001 - weights not trained/installed here
        pytest.skip(f"the zoo's trained weights are not installed ({error.__class__.__name__})")
    return loaded


@pytest.mark.timeout(300)
def test_threads_on_shared_zoo_models_get_the_sequential_results(models: dict[str, nn.Module]) -> None:
    images = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(7))
    # (model, job): every job on two models, so each model instance is shared by several threads
    # running different methods (hooked and not, traced and not) at the same time
    work = [(MODELS[(i + k) % len(MODELS)], job) for i, job in enumerate(JOBS) for k in (0, 1)]
    expected = {(name, job): JOBS[job](models[name], images) for name, job in work}
    barrier = threading.Barrier(len(work))
    failures: list[str] = []

    def run(name: str, job: str) -> None:
        try:
            barrier.wait(timeout=60)
            for round_ in range(ROUNDS):
                got = JOBS[job](models[name], images)
                if not torch.allclose(got, expected[(name, job)], rtol=1e-5, atol=1e-6):
                    diff = float((got - expected[(name, job)]).abs().max())
                    failures.append(f"{job} on {name}, round {round_}: differs by up to {diff:.3g}")
        except Exception as error:  # noqa: BLE001 - any exception in a thread is a failure
            failures.append(f"{job} on {name}: {error.__class__.__name__}: {error}")

    threads = [threading.Thread(target=run, args=pair, name=f"{pair[1]}@{pair[0]}") for pair in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    assert failures == []
    assert {name: hook_count(model) for name, model in models.items()} == dict.fromkeys(MODELS, 0)
