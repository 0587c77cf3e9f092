"""Incremental occlusion equals full inference: an independent naive loop and Captum's Occlusion."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from captum.attr import Occlusion
from torch import Tensor, nn

from saliency_core import kernels
from saliency_core.methods.occlusion.incremental import incremental_deltas

from occlusion_models import AttentionLike, FlattenHead, MaxPoolHead, ToyNet, TrainingBatchNorm, demo_cnn, naive_deltas

SIZE = 64


def baselines(images: Tensor) -> dict[str, Tensor]:
    batch, channels, height, width = images.shape
    return {
        "float": torch.tensor(0.25),
        "per_channel": torch.tensor([0.1, 0.5, 0.9]),
        "per_pixel": torch.rand(channels, height, width),
        "per_image": torch.rand(batch, channels, height, width),
    }


@pytest.mark.parametrize(("window", "stride"), [((16, 16), (8, 8)), ((8, 8), (8, 8)), ((7, 5), (5, 6)),
                                                ((10, 12), (9, 7)), ((20, 20), (11, 13))])
def test_demo_cnn_deltas_equal_naive_loop_for_window_and_stride(window: tuple[int, int],
                                                                  stride: tuple[int, int]) -> None:
    model = demo_cnn()
    images = torch.rand(2, 3, SIZE, SIZE)
    target = torch.tensor([0, 1])
    base = torch.tensor(0.3)
    deltas = incremental_deltas(model, images, window, stride, 0.3, target)
    assert deltas is not None
    torch.testing.assert_close(deltas, naive_deltas(model, images, window, stride, base, target),
                               atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind", ["float", "per_channel", "per_pixel", "per_image"])
def test_every_baseline_form_equals_naive_loop(kind: str) -> None:
    model = demo_cnn()
    images = torch.rand(2, 3, SIZE, SIZE)
    target = torch.tensor([1, 0])
    baseline = baselines(images)[kind]
    given: float | Tensor = float(baseline) if kind == "float" else baseline
    deltas = incremental_deltas(model, images, (12, 12), (10, 10), given, target)
    assert deltas is not None
    torch.testing.assert_close(deltas, naive_deltas(model, images, (12, 12), (10, 10), baseline, target),
                               atol=1e-4, rtol=0)


def test_toy_net_with_concat_and_pooling_equals_naive_loop() -> None:
    model = ToyNet().eval()
    images = torch.rand(2, 3, 40, 36)
    target = torch.tensor([2, 0])
    deltas = incremental_deltas(model, images, (9, 7), (5, 4), 0.0, target)
    assert deltas is not None
    torch.testing.assert_close(deltas, naive_deltas(model, images, (9, 7), (5, 4), torch.tensor(0.0), target),
                               atol=1e-4, rtol=0)


@pytest.mark.parametrize("form", ["amax", "amax_keepdim_method", "adaptive_function", "adaptive_module"])
@pytest.mark.parametrize(("window", "stride"), [((6, 6), (3, 3)), ((9, 5), (7, 4)), ((20, 20), (4, 4))])
def test_global_max_pool_deltas_equal_naive_loop(form: str, window: tuple[int, int], stride: tuple[int, int]) -> None:
    model = MaxPoolHead(form).eval()
    images = torch.rand(2, 3, 24, 28)
    images[1, :, 20:, 24:] = 4.0  # the max sits in a corner: windows over it change the pooled maximum
    target = torch.tensor([0, 2])
    deltas = incremental_deltas(model, images, window, stride, 0.0, target)
    assert deltas is not None  # the max pool has its incremental step (no full-inference fallback)
    expected = naive_deltas(model, images, window, stride, torch.tensor(0.0), target)
    assert expected.abs().max() > 1e-3  # occlusion really moves the output
    torch.testing.assert_close(deltas, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("make", [demo_cnn, lambda: ToyNet().eval()], ids=["demo_cnn", "toy_net"])
def test_accumulated_maps_equal_captum_occlusion(make) -> None:  # type: ignore[no-untyped-def]
    model = make()
    images = torch.rand(1, 3, 48, 48)
    target = torch.tensor([1])
    deltas = incremental_deltas(model, images, (10, 10), (6, 6), 0.5, target)
    assert deltas is not None
    ours = kernels.occlusion_accumulate(deltas, (48, 48), (10, 10), (6, 6))
    captum = Occlusion(model).attribute(images, sliding_window_shapes=(3, 10, 10), strides=(3, 6, 6),
                                        baselines=0.5, target=1, perturbations_per_eval=32)
    torch.testing.assert_close(ours, captum[:, 0], atol=1e-4, rtol=0)


def test_small_chunks_and_progress_give_the_same_deltas() -> None:
    model = demo_cnn()
    images = torch.rand(2, 3, SIZE, SIZE)
    target = torch.tensor([0, 0])
    calls: list[tuple[int, int]] = []
    whole = incremental_deltas(model, images, (16, 16), (8, 8), 0.0, target)
    chunked = incremental_deltas(model, images, (16, 16), (8, 8), 0.0, target, batch_size=10,
                                 progress=lambda done, total: calls.append((done, total)))
    assert whole is not None and chunked is not None
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=0)
    assert calls[-1] == (49, 49) and len(calls) == 10  # 5 windows (10 rows / 2 images) per chunk


@pytest.mark.parametrize("model", [FlattenHead(), AttentionLike(), TrainingBatchNorm().train()],
                         ids=["flatten_linear", "attention_view", "training_batchnorm"])
def test_unsupported_graphs_return_none_with_a_log_line(model: nn.Module, caplog: pytest.LogCaptureFixture) -> None:
    images = torch.rand(1, 3, 16, 16)
    with caplog.at_level(logging.INFO, logger="saliency_core.methods.occlusion.plan"):
        assert incremental_deltas(model, images, (4, 4), (4, 4), 0.0, torch.tensor([0])) is None
    assert any("full inference" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(("window", "stride"), [((16, 16), (4, 4)), ((9, 7), (3, 5)), ((5, 5), (3, 3))])
def test_windows_batched_in_blocks_of_similar_patch_size_stay_exact(monkeypatch: pytest.MonkeyPatch,
                                                                    window: tuple[int, int],
                                                                    stride: tuple[int, int]) -> None:
    from saliency_core.methods.occlusion import incremental as engine

    monkeypatch.setattr(engine, "GROUPING_MIN_WINDOWS", 0)  # split even these small grids
    model = demo_cnn()
    images = torch.rand(2, 3, SIZE, SIZE)
    target = torch.tensor([1, 0])
    plan = engine.build_plan(model, images, window, stride)
    assert plan is not None and len(plan.groups()) > 1  # really split
    calls: list[tuple[int, int]] = []
    deltas = engine.deltas_from_plan(plan, images, 0.2, target, batch_size=14,
                                     progress=lambda done, total: calls.append((done, total)))
    expected = naive_deltas(model, images, window, stride, torch.tensor(0.2), target)
    torch.testing.assert_close(deltas, expected, atol=1e-4, rtol=1e-4)
    assert calls[-1] == (expected.shape[1], expected.shape[1])
    # a scattered subset of windows (as the drill-down asks for) lands in the right places
    some = torch.tensor([0, 5, expected.shape[1] - 1, 17, 3])
    subset = engine.deltas_from_plan(plan, images, 0.2, target, windows=some)
    torch.testing.assert_close(subset, expected[:, some], atol=1e-4, rtol=1e-4)
    # and the full outputs per window agree with the deltas
    outputs = engine.outputs_from_plan(plan, images, 0.2)
    with torch.no_grad():
        clean = model(images).gather(1, target[:, None])
    torch.testing.assert_close(clean - outputs.gather(2, target[:, None, None].expand(-1, outputs.shape[1], 1))[..., 0],
                               expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("regions", "word"), [
    (((np.array([10]), np.array([5])), (np.array([0]), np.array([4]))), "lo < hi"),
    (((np.array([0, 4]), np.array([4])), (np.array([0]), np.array([4]))), "equal length"),
    (((np.array([64]), np.array([70])), (np.array([0]), np.array([4]))), "lo < 64"),
])
def test_bad_regions_are_a_value_error(regions: tuple, word: str) -> None:
    from saliency_core.methods.occlusion.plan import build_region_plan

    with pytest.raises(ValueError, match=word):
        build_region_plan(demo_cnn(), torch.rand(1, 3, SIZE, SIZE), regions)


def test_regions_given_as_lists_work() -> None:
    from saliency_core.methods.occlusion.incremental import outputs_from_plan
    from saliency_core.methods.occlusion.plan import build_region_plan

    model, images = demo_cnn(), torch.rand(1, 3, SIZE, SIZE)
    plan = build_region_plan(model, images, (([0, 32], [32, 64]), ([0], [64])))  # top and bottom halves
    assert plan is not None
    out = outputs_from_plan(plan, images, 0.0)
    halves = images.clone(), images.clone()
    halves[0][:, :, :32] = 0.0
    halves[1][:, :, 32:] = 0.0
    with torch.no_grad():
        expected = torch.stack([model(h) for h in halves], dim=1)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("make", [demo_cnn, lambda: ToyNet().eval(), lambda: MaxPoolHead("amax").eval()],
                         ids=["demo_cnn", "toy_net", "max_pool_head"])
def test_a_patch_is_freed_after_its_last_reader_and_never_before(make) -> None:  # type: ignore[no-untyped-def]
    from saliency_core.methods.occlusion.execution import _last_reads
    from saliency_core.methods.occlusion.plan import build_plan

    plan = build_plan(make(), torch.rand(1, 3, 32, 32), (8, 8), (4, 4))
    assert plan is not None
    freed = _last_reads(plan.steps, plan.output)
    when = {node: i for i, nodes in enumerate(freed) for node in nodes}
    assert sum(map(len, freed)) == len(when)  # each node freed once
    assert plan.output not in when
    for i, step in enumerate(plan.steps):
        assert step.node is plan.output or step.node in when  # every patch is freed
        for node in step.node.all_input_nodes:
            assert when.get(node, len(plan.steps)) >= i  # no step reads a freed patch
