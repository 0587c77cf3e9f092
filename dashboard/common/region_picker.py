"""The suspect region, by hand or by data: one widget for every page that measures a region.

The user drags a box on the photo (``dashboard.components.region_box``), types it in the photo's
own pixels (the keyboard way), picks the zoo's watermark box, or a mask (one the page offers, such
as a built-in photo's pet mask, or a mask file). Coordinates the user sees are always photo
pixels; :class:`RegionChoice` converts to a model's frame with
:meth:`saliency_core.data.preprocess.Preprocess.to_frame_box`::

    choice = region_picker(photo, key="ym_region", masks={"pet": pet_mask})
    if choice is not None:
        box = choice.frame_box()        # (x0, y0, x1, y1) in the 128-px frame (or choice.frame_box(pre))
        region = choice.frame_region()  # that box, or a mask's frame mask: what the metrics take
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import streamlit as st
import torch

from dashboard.common.messages import plain_error
from dashboard.common.render import BOX_COLOUR, data_uri, upscale
from dashboard.components.region_box import drawn_box, region_box
from saliency_core.artefacts import box_of, watermark_region
from saliency_core.checks import Box, check_box, parse_box, region_masks
from saliency_core.data.frame import mask_frame
from saliency_core.data.image_file import read_image
from saliency_core.data.preprocess import Preprocess
from saliency_core.render import resize
from saliency_core.render.overlay import blend

__all__ = ["RegionChoice", "box_text", "region_picker", "watermark_box"]

DISPLAY = 512  # the picture's largest width in the browser (px)
MASK_TYPES = ["png", "bmp", "gif", "tif", "tiff", "webp"]  # lossless: a mask's edge stays where it is
BOX, WATERMARK, MASK_FILE = "box", "watermark", "file"


@dataclass(frozen=True)
class RegionChoice:
    """The chosen region of a ``photo_size`` = (width, height) photo.

    ``box``: x0, y0, x1, y1 in photo pixels (x1, y1 exclusive); for a mask, its tight box.
    ``mask``: bool [height, width] for a mask region, else None. ``source``: where it came from:
    ``"drawn"``, ``"typed"``, ``"watermark"``, ``"mask:<name>"`` or ``"mask file"``.
    """

    source: str
    box: Box
    photo_size: tuple[int, int]
    mask: np.ndarray | None = field(default=None, compare=False)

    def frame_box(self, pre: Preprocess | None = None) -> Box:
        """The box in the model's frame (``pre``: the model's preprocessing, default the zoo's
        128-px centre crop): the smallest box of frame pixels covering it, clipped to the frame. A
        ValueError when none of it is in the part of the photo the model sees."""
        return (pre or Preprocess()).to_frame_box(self.box, self.photo_size, name="the region")

    def frame_mask(self, pre: Preprocess | None = None) -> np.ndarray:
        """bool [size, size]: the region in the model's frame (a box: :meth:`frame_box` filled; a
        mask: through the same crop or stretch as the photo, nearest neighbour)."""
        pre = pre or Preprocess()
        if self.mask is None:
            return region_masks(torch.tensor(self.frame_box(pre)), 1, pre.size, pre.size)[0].numpy()
        labels = self.mask.astype(np.uint8)
        framed = (mask_frame(labels, pre.size) if pre.resize == "crop"
                  else resize(labels, (pre.size, pre.size), nearest=True)) > 0
        if not framed.any():
            width, height = self.photo_size
            raise ValueError(f"the region is outside the part of the {width}x{height} photo the model sees "
                             "(its centre crop)")
        return framed

    def frame_region(self, pre: Preprocess | None = None) -> Box | np.ndarray:
        """What the metrics take (``top_percent_share``'s region): the frame box, or the frame mask."""
        return self.frame_box(pre) if self.mask is None else self.frame_mask(pre)

    @property
    def label(self) -> str:
        """A short description for captions: "drawn box 10,20,60,80", "mask: pet", …"""
        if self.mask is not None:
            return self.source.replace("mask:", "mask: ")
        return f"{self.source} box {box_text(self.box)}"


def box_text(box: Box) -> str:
    """``x0,y0,x1,y1`` as the typed field shows it."""
    return ",".join(str(int(v)) for v in box)


@lru_cache(maxsize=16)
def watermark_box(width: int, height: int) -> Box:
    """The zoo's watermark as drawn on an image of this size (it scales with the width; bottom-left),
    as a box: what the quadrant test set measures."""
    return box_of(watermark_region(height, width))


@st.cache_data(max_entries=4, show_spinner=False)
def mask_from_file(data: bytes, name: str) -> np.ndarray:
    """A mask image as bool [H, W] (upright, as photos are): pixels brighter than mid-grey are the
    region. Decoded with the same checks as any upload (``read_image``)."""
    return Preprocess.photo(read_image(data, name=name)).max(axis=2) > 127


def _check_masks(masks: Mapping[str, np.ndarray] | None, height: int, width: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, mask in (masks or {}).items():
        mask = np.asarray(mask)
        if mask.shape != (height, width):
            raise ValueError(f"masks[{name!r}] must be [{height}, {width}] (the photo's size), got {mask.shape}")
        out[name] = mask.astype(bool)
    return out


def _picture(photo: np.ndarray, mask: np.ndarray | None) -> str:
    """The photo at display size as a data URI, a mask washed in the pages' box colour."""
    height, width = photo.shape[:2]
    shown = upscale(photo, min(DISPLAY, max(height, width)), nearest=max(height, width) < DISPLAY // 2)
    if mask is not None:
        inside = resize(mask.astype(np.uint8), shown.shape[:2], nearest=True) > 0
        shown = blend(shown, np.where(inside[..., None], np.array(BOX_COLOUR, np.uint8), shown), 0.5)
    return data_uri(shown, fmt="JPEG", quality=90)


def region_picker(photo: np.ndarray, *, key: str, default: Box | None = None,
                  masks: Mapping[str, np.ndarray] | None = None, mask_file: bool = True,
                  preprocess: Preprocess | None = None) -> RegionChoice | None:
    """Let the user choose a region of ``photo`` (uint8 [H, W, 3], the original photo).

    ``default``: the box shown first, in photo pixels (else the watermark box). ``masks``: named
    bool [H, W] masks to offer (e.g. ``{"pet": pet_mask}``); ``mask_file``: offer a mask upload.
    ``preprocess``: the model's (default the zoo's 128-px crop) for the frame coordinates shown
    under the picture. Returns the choice, or None (with a one-line error on the page) while the
    typed box or the mask file cannot be used.
    """
    photo = np.asarray(photo)
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise ValueError(f"photo must be uint8 [H, W, 3], got {photo.dtype} {photo.shape}")
    height, width = photo.shape[:2]
    offered = _check_masks(masks, height, width)
    if default is not None:
        default = check_box(default, width=width, height=height, name="default", frame="photo")
    source_key, size_key, draw_key = f"{key}_source", f"{key}_size", f"{key}_draw"
    # The typed box lives under _box (the text field's own state goes when the field is not shown).
    box_key, text_key, drawn_key = f"{key}_box", f"{key}_text", f"{key}_drawn"

    # A new photo of another size: photo-pixel coordinates of the last one mean nothing on it.
    if st.session_state.get(size_key) != (width, height):
        st.session_state[size_key] = (width, height)
        st.session_state[box_key] = st.session_state[text_key] = box_text(default or watermark_box(width, height))
        st.session_state.pop(drawn_key, None)
    options = [BOX, WATERMARK, *(f"mask:{name}" for name in offered), *([MASK_FILE] if mask_file else [])]
    if st.session_state.get(source_key) not in options:
        st.session_state[source_key] = BOX

    def on_draw() -> None:  # a drag: the typed field shows the drawn box, and the box is chosen
        box = drawn_box(draw_key)
        if box is not None:
            st.session_state[box_key] = st.session_state[text_key] = st.session_state[drawn_key] = box_text(box)
            st.session_state[source_key] = BOX

    names = {BOX: "Box (drag or type)", WATERMARK: "Watermark box", MASK_FILE: "Mask file"}
    source = st.radio("Region", options, key=source_key, horizontal=True,
                      format_func=lambda o: names.get(o) or f"Mask: {o.removeprefix('mask:')}",
                      help="Drag on the photo to draw a box (the choice switches to Box), or type it.")
    choice, problem = _choose(source, offered, width, height, key)
    region_box(
        image_uri=_picture(photo, None if choice is None else choice.mask), width=width, height=height,
        box=None if choice is None or choice.mask is not None else choice.box, key=draw_key, on_draw=on_draw,
        label=f"Photo, {width} by {height} pixels" + (f"; region: {choice.label}" if choice else ""),
        hint="Drag on the photo to draw a box (photo pixels).", display=DISPLAY,
    )
    if problem:
        st.error(problem, icon=":material/error:")
        return None
    if choice is not None:
        pre = preprocess or Preprocess()
        try:
            frame = box_text(pre.to_frame_box(choice.box, choice.photo_size, name="The region"))
        except ValueError as error:
            st.error(plain_error(error), icon=":material/error:")
            return None
        st.caption(f"Region: {choice.label} in the {width}×{height} photo; x0,y0,x1,y1 = {frame} "
                   f"in the model's {pre.size}×{pre.size} frame.")
    return choice


def _choose(source: str, masks: dict[str, np.ndarray], width: int, height: int,
            key: str) -> tuple[RegionChoice | None, str | None]:
    """The region for ``source`` (with its input widget: the typed box or the mask upload), or a
    one-line problem."""
    size = (width, height)
    if source == WATERMARK:
        return RegionChoice("watermark", watermark_box(width, height), size), None
    if source.startswith("mask:"):
        mask = masks[source.removeprefix("mask:")]
        if not mask.any():
            return None, f"The mask {source.removeprefix('mask:')!r} selects no pixel of the photo."
        return RegionChoice(source, box_of(torch.from_numpy(mask)), size, mask), None
    if source == MASK_FILE:
        upload = st.file_uploader(f"Mask image, {width}×{height} like the photo (white = the region)",
                                  type=MASK_TYPES, key=f"{key}_file")
        if upload is None:
            return None, None
        try:
            mask = mask_from_file(upload.getvalue(), upload.name)
        except ValueError as error:
            return None, f"The mask file can't be used: {plain_error(error)}"
        if mask.shape != (height, width):
            return None, (f"The mask {upload.name} is {mask.shape[1]}×{mask.shape[0]} but the photo is "
                          f"{width}×{height}: a mask file must have the photo's size.")
        if not mask.any():
            return None, f"The mask {upload.name} has no white pixel: nothing is selected."
        return RegionChoice("mask file", box_of(torch.from_numpy(mask)), size, mask), None
    box_key, text_key = f"{key}_box", f"{key}_text"
    if text_key not in st.session_state:  # shown again after another source: the last box typed
        st.session_state[text_key] = st.session_state.get(box_key, "")
    text = st.text_input(f"Box in photo pixels: x0,y0,x1,y1 (x1, y1 exclusive; the photo is {width}×{height})",
                         key=text_key, on_change=lambda: st.session_state.update({box_key: st.session_state[text_key]}))
    try:
        box = parse_box(text, width=width, height=height, name="The box", frame="photo")
    except ValueError as error:
        return None, plain_error(error)
    drawn = st.session_state.get(f"{key}_drawn") == box_text(box)
    return RegionChoice("drawn" if drawn else "typed", box, size), None
