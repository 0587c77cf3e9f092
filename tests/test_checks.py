"""The input checks of ``saliency_core.checks`` against hand-worked expectations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from saliency_core.checks import (
    RANGE_TOLERANCE,
    check_box,
    check_boxes,
    check_finite,
    check_float_pair,
    check_images,
    check_int_pair,
    check_integer,
    check_labels,
    check_logits,
    check_maps,
    check_positive,
    check_seed,
    parse_box,
    region_masks,
)

# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(200)])
def test_positive_ints_of_any_integer_type_come_back_as_python_ints(value: object) -> None:
    result = check_positive("steps", value)
    assert result == int(value) and type(result) is int  # type: ignore[call-overload]


@pytest.mark.parametrize("value", [0, -1, True, 2.0, "3", None])
def test_anything_but_an_int_of_at_least_one_is_not_positive(value: object) -> None:
    with pytest.raises(ValueError, match="steps must be a positive int"):
        check_positive("steps", value)


def test_an_integer_may_be_zero_or_negative_but_never_a_bool() -> None:
    assert check_integer("start", -4) == -4
    with pytest.raises(ValueError, match="start must be an int"):
        check_integer("start", False)


@pytest.mark.parametrize("seed", [None, 0, -(2 ** 63), 2 ** 64 - 1])
def test_seeds_span_what_a_torch_generator_takes(seed: int | None) -> None:
    assert check_seed(seed) == seed
    if seed is not None:
        torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(("seed", "message"), [(2 ** 64, "64 bits"), (-(2 ** 63) - 1, "64 bits"),
                                                 (1.5, "integer"), (True, "integer")])
def test_seeds_outside_64_bits_or_not_integers_are_refused(seed: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_seed(seed)


@pytest.mark.parametrize(
    ("closed", "inside", "outside"),
    [("both", [0, 0.5, 1], [-1e-9, 1 + 1e-9]), ("left", [0, 0.5], [1]), ("right", [0.5, 1], [0]),
     ("neither", [1e-9, 0.5], [0, 1])],
)
def test_a_finite_number_is_inside_its_range_with_exactly_the_closed_ends(
    closed: str, inside: list[float], outside: list[float]
) -> None:
    for value in inside:
        assert check_finite("p", value, low=0, high=1, closed=closed) == value  # type: ignore[arg-type]
    for value in outside:
        with pytest.raises(ValueError, match="p must be a finite number in"):
            check_finite("p", value, low=0, high=1, closed=closed)  # type: ignore[arg-type]


def test_the_message_writes_the_range_as_an_interval() -> None:
    with pytest.raises(ValueError, match=r"percent must be a finite number in \(0, 100\], got 0"):
        check_finite("percent", 0, low=0, high=100, closed="right")
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0, got -1"):
        check_finite("sigma", -1, low=0)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "1", None])
def test_nan_inf_bools_and_non_numbers_are_not_finite_numbers(value: object) -> None:
    with pytest.raises(ValueError, match="x must be a finite number"):
        check_finite("x", value)


def test_an_int_pair_is_one_int_twice_or_two_positive_ints() -> None:
    assert check_int_pair("window", 5) == (5, 5)
    assert check_int_pair("window", (2, 3)) == (2, 3)
    assert check_int_pair("window", [np.int32(4), 1]) == (4, 1)


@pytest.mark.parametrize(("value", "message"), [((0, 3), "positive"), (-1, "positive"), ((1, 2, 3), "pair"),
                                                ("ab", "pair"), ((1.0, 2), "pair"), (True, "pair")])
def test_int_pairs_of_the_wrong_length_type_or_sign_are_refused(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"window must .*{message}"):
        check_int_pair("window", value)


def test_a_float_pair_is_two_finite_numbers() -> None:
    assert check_float_pair("stats", (3, 2.5)) == (3.0, 2.5)
    assert check_float_pair("stats", np.array([1.0, 2.0])) == (1.0, 2.0)
    for bad in [(1.0, math.nan), (1.0,), 1.0, "ab"]:
        with pytest.raises(ValueError, match="stats must be a pair of finite numbers"):
            check_float_pair("stats", bad)


# --------------------------------------------------------------------------- images and logits


def test_the_default_images_are_finite_float32_batches_of_any_channel_count_but_four() -> None:
    for channels in (1, 3, 5):
        images = torch.rand(2, channels, 4, 4)
        assert check_images(images) is images
    with pytest.raises(ValueError, match="RGBA"):
        check_images(torch.rand(2, 4, 4, 4))


@pytest.mark.parametrize(
    ("images", "message"),
    [([[0.0]], "images must be a torch.Tensor, got list"), (torch.rand(3, 4, 4), "4-D"),
     (torch.rand(2, 3, 4, 4).double(), "images must be float32, got torch.float64"),
     (torch.rand(0, 3, 4, 4), "non-empty"), (torch.rand(2, 3, 0, 4), "non-empty"),
     (torch.full((1, 3, 2, 2), math.nan), "NaN or Inf"), (torch.full((1, 3, 2, 2), math.inf), "NaN or Inf")],
)
def test_images_that_are_not_a_finite_float32_nchw_batch_are_named(images: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_images(images)


def test_any_float_dtype_passes_when_dtypes_is_none_but_integers_never_do() -> None:
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        check_images(torch.rand(1, 3, 2, 2).to(dtype), dtypes=None)
    with pytest.raises(ValueError, match="images must be floating-point.*uint8"):
        check_images(torch.zeros(1, 3, 2, 2, dtype=torch.uint8), dtypes=None)


def test_channels_limit_the_channel_count_and_may_allow_four() -> None:
    with pytest.raises(ValueError, match=r"images must be RGB \[B,3,H,W\], got shape \(1, 1, 2, 2\)"):
        check_images(torch.rand(1, 1, 2, 2), channels=(3,))
    check_images(torch.rand(1, 4, 2, 2), channels=(3, 4))


def test_finite_and_allow_empty_let_pure_pixel_maps_through() -> None:
    nan = torch.full((1, 3, 2, 2), math.nan)
    assert check_images(nan, finite=False) is nan
    empty = torch.rand(0, 3, 2, 2)
    assert check_images(empty, allow_empty=True) is empty


def _with(value: float) -> torch.Tensor:
    images = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    images[1, 2, 3, 3] = value
    return images


@pytest.mark.parametrize("value", [0.0, 1.0, -0.99 * RANGE_TOLERANCE, 1 + 0.99 * RANGE_TOLERANCE])
def test_images_in_the_unit_range_up_to_the_rounding_tolerance_pass(value: float) -> None:
    assert RANGE_TOLERANCE == 1e-3  # the documented tolerance
    images = _with(value)
    assert check_images(images) is images


@pytest.mark.parametrize(
    ("value", "message"),
    [(255.0, r"images must be in \[0, 1\]: values up to 255 — divide by 255"),
     (2.5, r"images must be in \[0, 1\]: values up to 2.5 — divide by 255"),
     (1.002, r"images must be in \[0, 1\]: values up to 1.002 — clamp them to \[0, 1\]"),
     (-0.002, r"images must be in \[0, 1\]: negative values — pass unnormalised pixels, the model normalises"),
     (-2.1, r"images must be in \[0, 1\]: negative values — pass unnormalised pixels, the model normalises")],
)
def test_images_outside_the_unit_range_are_named_with_what_was_probably_meant(value: float, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        check_images(_with(value))


def test_normalised_images_get_the_normalisation_hint_even_above_one() -> None:
    images = _with(-1.8)
    images[0, 0, 0, 0] = 2.6  # ImageNet normalisation spans about [-2.1, 2.6]
    with pytest.raises(ValueError, match="pass unnormalised pixels"):
        check_images(images)


def test_unit_range_false_accepts_any_finite_reals_and_the_name_words_the_message() -> None:
    images = torch.randn(2, 3, 4, 4) * 100
    assert check_images(images, unit_range=False) is images
    with pytest.raises(ValueError, match=r"^image cat\.png must be in \[0, 1\]: values up to 255 — divide by 255$"):
        check_images(_with(255.0), name="image cat.png")


def test_nan_is_named_as_nan_not_as_a_range_problem_and_passes_when_finite_is_off() -> None:
    with pytest.raises(ValueError, match="NaN or Inf"):
        check_images(_with(math.nan))
    with pytest.raises(ValueError, match="NaN or Inf"):
        check_images(_with(math.inf))
    assert check_images(_with(math.nan), finite=False) is not None


def test_non_float_logits_are_named_with_their_dtype() -> None:
    for dtype, kind in [(torch.int64, "integer"), (torch.int32, "integer"), (torch.bool, "boolean"),
                        (torch.complex64, "complex")]:
        name = str(dtype).removeprefix("torch.")
        message = rf"^the model returns {kind} logits \({name}\); saliency needs float logits$"
        with pytest.raises(ValueError, match=message):
            check_logits(torch.ones(3, 2).to(dtype), 3)
    integers = torch.ones(3, 2, dtype=torch.int64)
    assert check_logits(integers, 3, floating=False) is integers  # argmax-only callers


def test_logits_are_one_finite_row_of_at_least_one_class_per_image() -> None:
    logits = torch.rand(3, 2)
    assert check_logits(logits, 3) is logits
    for bad, message in [(torch.rand(2, 2), r"\[3,K\]"), (torch.rand(3, 0), r"\[3,K\]"),
                         (torch.rand(3), r"\[3,K\]"), ((1, 2), "logits tensor")]:
        with pytest.raises(ValueError, match=message):
            check_logits(bad, 3)
    nan = torch.full((3, 2), math.nan)
    with pytest.raises(ValueError, match="NaN or Inf logits"):
        check_logits(nan, 3)
    assert check_logits(nan, 3, finite=False) is nan


def test_labels_are_whole_numbers_inside_the_class_count() -> None:
    assert check_labels([0.0, 1.0, 2.0], 3).tolist() == [0, 1, 2]
    assert check_labels(np.array([1, 0], dtype=object), 2, 2).dtype == torch.int64
    with pytest.raises(ValueError, match="non-integer"):
        check_labels(torch.tensor([0.5, 1.0]), 2)
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\).*got 2"):
        check_labels([0, 2], 2, 2)
    with pytest.raises(ValueError, match="batch sizes differ"):
        check_labels([0, 1], 3)


def test_maps_are_finite_float32_bhw() -> None:
    assert check_maps(torch.ones(1, 2, 2, dtype=torch.float64)).dtype == torch.float32
    for bad, message in [(torch.ones(2, 2), r"\[B,H,W\]"), (torch.ones(0, 2, 2), "empty"),
                         (torch.full((1, 2, 2), math.nan), "NaN"), (torch.full((1, 2, 2), math.inf), "Inf")]:
        with pytest.raises(ValueError, match=message):
            check_maps(bad)


# --------------------------------------------------------------------------- boxes


def test_a_box_filling_the_frame_and_a_one_pixel_box_in_its_corner_are_inside() -> None:
    assert check_box((0, 0, 128, 96), width=128, height=96) == (0, 0, 128, 96)
    assert check_box((127, 95, 128, 96), width=128, height=96) == (127, 95, 128, 96)


def test_fractional_coordinates_are_floored_as_the_metrics_floor_them() -> None:
    assert check_box((0.9, 1.5, 10.99, 20.0), width=32, height=32) == (0, 1, 10, 20)
    with pytest.raises(ValueError, match="is empty"):
        check_box((2.2, 2.0, 2.9, 6.0), width=32, height=32)  # x0 and x1 both floor to 2


@pytest.mark.parametrize("box", [(-1, 0, 4, 4), (0, -1, 4, 4), (0, 0, 33, 4), (0, 0, 4, 17)])
def test_a_box_reaching_past_any_edge_lies_outside(box: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match=r"lies outside the 32x16 image: need 0 <= x0 < x1 <= 32 "
                                         r"and 0 <= y0 < y1 <= 16"):
        check_box(box, width=32, height=16)


def test_clipping_keeps_the_part_inside_and_refuses_a_box_with_no_pixel_inside() -> None:
    assert check_box((-5, -5, 10, 40), width=8, height=16, clip=True) == (0, 0, 8, 16)
    for box in [(8, 0, 12, 4), (0, 16, 4, 20), (-4, 0, 0, 4), (0, -4, 4, 0)]:
        with pytest.raises(ValueError, match="no pixel of it is inside"):
            check_box(box, width=8, height=16, clip=True)


def test_huge_coordinates_neither_overflow_nor_pass() -> None:
    with pytest.raises(ValueError, match="outside"):
        check_box((0, 0, 1e300, 10 ** 400), width=8, height=8)
    assert check_box((0, 0, 1e300, 10 ** 400), width=8, height=8, clip=True) == (0, 0, 8, 8)


def test_parse_box_reads_four_integers_and_quotes_the_text_in_one_line_errors() -> None:
    assert parse_box(" 1, 2,30 ,40", width=128, height=128) == (1, 2, 30, 40)
    for text, message in [("0,0,8", "four integers"), ("0,0,8.5,8", "four integers"), ("", "four integers"),
                          ("5,5,5,9", "is empty"), ("0,0,200,8", "outside the 128x128 model frame")]:
        with pytest.raises(ValueError, match=message) as caught:
            parse_box(text, width=128, height=128, name="--region", frame="model frame")
        assert str(caught.value).startswith("--region") and "\n" not in str(caught.value)
        assert text in str(caught.value)


@pytest.mark.parametrize("text", ["0,0,inf,inf", "0,0,nan,5", "1,2,3", "x,0,1,1"])
def test_parse_box_with_fractions_refuses_what_is_not_four_finite_numbers(text: str) -> None:
    with pytest.raises(ValueError, match=f"region must be four finite numbers x0,y0,x1,y1, got '{text}'"):
        parse_box(text, width=128, height=128, integers=False)


def test_parse_box_with_fractions_floors_and_may_clip() -> None:
    assert parse_box("10.5,20,30.9,40", width=128, height=128, integers=False) == (10, 20, 30, 40)
    assert parse_box("-50,-50,500,500", width=128, height=128, integers=False, clip=True) == (0, 0, 128, 128)


def test_tensor_boxes_obey_the_same_rule_row_by_row_and_name_the_image() -> None:
    boxes = torch.tensor([[0.5, 0.0, 8.7, 4.0], [-3.0, -3.0, 20.0, 5.0]])
    expected = [list(check_box(row, width=16, height=8, clip=True)) for row in boxes.tolist()]
    assert check_boxes(boxes, height=8, width=16, clip=True).tolist() == expected == [[0, 0, 8, 4], [0, 0, 16, 5]]
    with pytest.raises(ValueError, match="box -3,-3,20,5 of image 1 lies outside the 16x8 image"):
        check_boxes(boxes, height=8, width=16)
    with pytest.raises(ValueError, match="boxes contain NaN or Inf"):
        check_boxes(torch.tensor([[0.0, 0.0, math.nan, 1.0]]), height=8, width=16)


def test_region_masks_of_boxes_cover_exactly_the_box_area() -> None:
    boxes = torch.tensor([[0, 0, 4, 4], [2, 1, 7, 3]])
    masks = region_masks(boxes, 2, 6, 8)
    assert masks.shape == (2, 6, 8)
    assert masks.flatten(1).sum(1).tolist() == [4 * 4, 5 * 2]
    assert bool(masks[1, 1:3, 2:7].all())


def test_one_mask_or_one_box_serves_the_whole_batch() -> None:
    mask = torch.zeros(6, 8, dtype=torch.bool)
    mask[0, 0] = True
    assert region_masks(mask, 3, 6, 8).flatten(1).sum(1).tolist() == [1, 1, 1]
    assert region_masks(torch.tensor([0, 0, 2, 3]), 3, 6, 8).flatten(1).sum(1).tolist() == [6, 6, 6]
