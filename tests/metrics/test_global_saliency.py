"""Global saliency (m, n), normalisations and bootstrap CIs against constructed maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from saliency_core.metrics import (
    bootstrap_ci,
    global_saliency,
    mean_saliency,
    normalise,
    peak_saliency,
    per_class,
)

BOX = torch.tensor([[2, 2, 6, 6]])  # x0, y0, x1, y1 (exclusive): 16 pixels


def _map_with_peaks(points: list[tuple[int, int]]) -> torch.Tensor:
    """A 10x10 map: small distinct background, 10 + i at the given (y, x) points."""
    maps = torch.linspace(0, 1, 100).view(1, 10, 10).clone()
    for i, (y, x) in enumerate(points):
        maps[0, y, x] = 10.0 + i
    return maps


def test_peak_share_is_one_when_all_top_pixels_are_in_the_box() -> None:
    maps = _map_with_peaks([(2, 2), (3, 3), (4, 4), (5, 5)])
    assert peak_saliency(maps, BOX, percent=4.0).item() == pytest.approx(1.0)


def test_peak_share_is_zero_when_no_top_pixel_is_in_the_box() -> None:
    maps = _map_with_peaks([(0, 0), (9, 9), (0, 9), (9, 0)])
    assert peak_saliency(maps, BOX, percent=4.0).item() == pytest.approx(0.0)


def test_peak_share_is_half_when_half_the_top_pixels_are_in_the_box() -> None:
    maps = _map_with_peaks([(2, 2), (3, 3), (9, 9), (0, 9)])
    assert peak_saliency(maps, BOX, percent=4.0).item() == pytest.approx(0.5)


def test_boxes_and_equivalent_masks_give_the_same_statistics() -> None:
    maps = torch.rand(3, 12, 12)
    boxes = torch.tensor([[0, 0, 4, 4], [3, 5, 12, 9], [1, 1, 2, 2]])
    masks = torch.zeros(3, 12, 12, dtype=torch.bool)
    for i, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        masks[i, y0:y1, x0:x1] = True
    a, b = global_saliency(maps, boxes, percent=5.0), global_saliency(maps, masks, percent=5.0)
    torch.testing.assert_close(a.m, b.m)
    torch.testing.assert_close(a.n, b.n)


def test_mean_saliency_matches_a_naive_loop() -> None:
    maps = torch.rand(4, 8, 9)
    boxes = torch.tensor([[0, 0, 9, 8], [1, 2, 3, 4], [5, 0, 9, 1], [4, 4, 5, 5]])
    expected = []
    for i, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        values = [float(maps[i, y, x]) for y in range(y0, y1) for x in range(x0, x1)]
        expected.append(sum(values) / len(values))
    torch.testing.assert_close(mean_saliency(maps, boxes), torch.tensor(expected))


def test_image_normalisations_scale_each_map_by_its_mean_or_sum_of_magnitudes() -> None:
    maps = torch.randn(3, 6, 6)
    by_mean = normalise(maps, "image_mean")
    by_sum = normalise(maps, "image_sum")
    torch.testing.assert_close(by_mean.abs().mean(dim=(1, 2)), torch.ones(3))
    torch.testing.assert_close(by_sum.abs().sum(dim=(1, 2)), torch.ones(3))
    assert torch.equal(normalise(torch.zeros(1, 4, 4), "image_mean"), torch.zeros(1, 4, 4))


def test_dataset_normalisation_is_a_z_score_over_all_pixels() -> None:
    maps = 3 + 2 * torch.randn(5, 8, 8, dtype=torch.float64).float()
    z = normalise(maps, "dataset")
    assert float(z.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(z.std(correction=0)) == pytest.approx(1.0, abs=1e-5)
    torch.testing.assert_close(normalise(maps, "dataset", stats=(3.0, 2.0)), (maps - 3) / 2)


def test_peak_share_is_unchanged_by_positive_per_image_normalisation() -> None:
    maps = torch.rand(2, 10, 10)
    box = torch.tensor([0, 0, 5, 5])
    plain = global_saliency(maps, box, percent=10.0)
    scaled = global_saliency(maps, box, percent=10.0, normalisation="image_sum")
    torch.testing.assert_close(plain.n, scaled.n)


def test_bootstrap_ci_contains_the_true_mean_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    hits = 0
    for trial in range(200):
        values = rng.exponential(scale=2.0, size=60)  # known mean 2, skewed
        mean, low, high = bootstrap_ci(values, n_boot=500, seed=trial)
        assert low <= mean <= high
        hits += low < 2.0 < high
    assert 0.88 <= hits / 200 <= 0.99


def test_bootstrap_ci_width_matches_normal_theory_for_a_large_sample() -> None:
    values = np.random.default_rng(8).normal(loc=3.0, scale=1.0, size=400)
    _, low, high = bootstrap_ci(values, seed=1)
    assert high - low == pytest.approx(2 * 1.96 / np.sqrt(400), rel=0.2)


def test_bootstrap_ci_is_reproducible_with_a_seed() -> None:
    values = np.arange(20.0)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)


def test_per_class_reports_each_class_mean_and_count() -> None:
    values = np.array([1.0, 1.0, 1.0, 5.0, 7.0])
    labels = np.array([0, 0, 0, 1, 1])
    table = per_class(values, labels, class_names=["cat", "dog"])
    assert table["class"].tolist() == ["cat", "dog"]
    assert table["n"].tolist() == [3, 2]
    assert table["mean"].tolist() == pytest.approx([1.0, 6.0])
    assert table.loc[0, "ci_low"] == table.loc[0, "ci_high"] == 1.0


@pytest.mark.parametrize(
    ("maps", "region", "message"),
    [
        (torch.full((1, 4, 4), float("nan")), torch.tensor([0, 0, 2, 2]), "NaN"),
        (torch.full((1, 4, 4), float("inf")), torch.tensor([0, 0, 2, 2]), "Inf"),
        (torch.rand(1, 4, 4), torch.tensor([0, 0, 5, 2]), "outside"),
        (torch.rand(1, 4, 4), torch.tensor([2, 2, 2, 3]), "empty"),
        (torch.rand(1, 4, 4), torch.zeros(1, 4, 4, dtype=torch.bool), "selects no pixel"),
        (torch.rand(2, 4, 4), torch.tensor([[0, 0, 2, 2]] * 3), "batch sizes differ"),
        (torch.rand(4, 4), torch.tensor([0, 0, 2, 2]), "shape"),
    ],
)
def test_bad_maps_or_regions_raise_value_errors_naming_the_problem(
    maps: torch.Tensor, region: torch.Tensor, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        global_saliency(maps, region)


def test_bootstrap_rejects_non_finite_values() -> None:
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci([1.0, float("nan")])


def test_a_region_covering_the_whole_image_has_share_one_and_the_image_mean() -> None:
    maps = torch.rand(3, 7, 9)
    result = global_saliency(maps, torch.tensor([0, 0, 9, 7]), percent=3.0)
    torch.testing.assert_close(result.n, torch.ones(3))
    torch.testing.assert_close(result.m, maps.mean(dim=(1, 2)))


def test_unknown_normalisation_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalise(torch.rand(1, 4, 4), "zscore")  # type: ignore[arg-type]


@pytest.mark.parametrize("n_boot", [0, -1, 2.5, True])
def test_bootstrap_rejects_a_n_boot_that_is_not_a_positive_int(n_boot: object) -> None:
    with pytest.raises(ValueError, match="n_boot must be a positive int"):
        bootstrap_ci([1.0, 2.0], n_boot=n_boot)  # type: ignore[arg-type]


@pytest.mark.parametrize("labels", [[0, 1, 2], [0, -1, 1]])
def test_per_class_rejects_labels_without_a_class_name(labels: list[int]) -> None:
    with pytest.raises(ValueError, match=r"labels must be class indices in \[0, 2\) .*class_names"):
        per_class([1.0, 2.0, 3.0], labels, class_names=["cat", "dog"], n_boot=10)


def test_per_class_takes_labels_from_an_object_column_and_names_non_numbers() -> None:
    labels = np.array([0, 0, 1], dtype=object)  # e.g. a pandas column of Python ints
    table = per_class([1.0, 3.0, 5.0], labels, class_names=["cat", "dog"], n_boot=10)
    assert table["n"].tolist() == [2, 1] and table["mean"].tolist() == pytest.approx([2.0, 5.0])
    with pytest.raises(ValueError, match="labels must be integer class indices"):
        per_class([1.0, 3.0], np.array(["cat", None], dtype=object), class_names=["cat", "dog"], n_boot=10)


def test_per_class_rejects_a_non_positive_n_boot() -> None:
    with pytest.raises(ValueError, match="n_boot"):
        per_class([1.0, 2.0], [0, 1], n_boot=0)
