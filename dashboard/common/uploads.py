"""Uploaded images: validated into the model frame, each bad file with its own plain reason.

Streamlit only checks the extension, so the content goes through
``saliency_core.data.image_file.read_image``: Pillow ``verify()``, a 40 MP pixel cap before
decoding (decompression bombs), multi-frame files refused, EXIF orientation, RGB.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from saliency_core.data import to_model_frame
from saliency_core.data.image_file import read_image

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]


@dataclass(frozen=True)
class Upload:
    name: str
    digest: str
    image: torch.Tensor  # [3,FRAME,FRAME] float32 in [0,1]: the model frame


def validate_image(name: str, data: bytes) -> Upload:
    """One uploaded file as a model-frame image; ``ValueError`` with a plain reason otherwise
    (the reason does not repeat the file's name: the page shows it)."""
    if not data:
        raise ValueError("the file is empty")
    try:
        picture = read_image(data, name=name)
        image = to_model_frame(picture)
    except ValueError as error:  # read_image prefixes the name
        message = str(error)
        raise ValueError(message[len(name) + 2:] if message.startswith(f"{name}: ") else message) from error
    except Exception as error:  # noqa: BLE001 - any decoder failure is bad input, not a crash
        raise ValueError(f"the image could not be decoded ({error.__class__.__name__})") from error
    return Upload(name, hashlib.sha256(data).hexdigest()[:24], image)


def unique_names(names: Sequence[str]) -> list[str]:
    """``names`` with repeats made distinct: a second ``a.png`` becomes ``a (2).png``."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        candidate, k = name, 1
        while candidate in seen:
            k += 1
            path = Path(name)
            candidate = f"{path.stem} ({k}){path.suffix}"
        seen.add(candidate)
        out.append(candidate)
    return out
