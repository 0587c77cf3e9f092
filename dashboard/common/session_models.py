"""The session's models: the zoo's, then this session's uploaded model (if one is loaded).

A page's model picker offers :func:`model_choices`; a choice is a zoo name or this session's
upload, and the page asks here for what it needs to run it (:func:`audit_model`,
:func:`preprocess_of`). The upload lives in ``st.session_state`` only
(:mod:`dashboard.common.user_models`): another session never sees it, and its results are kept
on it (``UserModel.maps``), never in a cache shared between sessions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch
from PIL import Image
from streamlit.delta_generator import DeltaGenerator

from dashboard.common.explanations import Maps, digest_of
from dashboard.common.models import CLASSES, title, zoo_names
from dashboard.common.render import to_uint8
from dashboard.common.user_models import (
    CANCELLED_KEY,
    UserModel,
    WaitCallback,
    cancel_run,
    current_user_model,
    run_again,
    run_signature,
    user_maps,
    user_result,
)
from saliency_core.data.frame import FRAME
from saliency_core.data.preprocess import Preprocess

UPLOAD_PREFIX = "upload:"


@dataclass(frozen=True)
class ModelChoice:
    key: str  # a zoo name ("normal"), or "upload:<sha>" for this session's uploaded model
    title: str  # display name: zoo titles from dashboard.common.models.title; the upload's file name
    zoo: bool


def zoo_choice(name: str) -> ModelChoice:
    """The choice of zoo model ``name``."""
    return ModelChoice(name, title(name), True)


def upload_key(user: UserModel) -> str:
    """``"upload:<sha>"``: the choice key of ``user`` (it changes with the file and its preprocessing)."""
    return UPLOAD_PREFIX + hashlib.sha256(user.key.encode()).hexdigest()[:16]


def upload_choice(user: UserModel) -> ModelChoice:
    """The choice of this session's uploaded model ``user``."""
    return ModelChoice(upload_key(user), user.file_name, False)


def session_upload() -> UserModel | None:
    """This session's loaded upload (None when there is none, or it failed to load)."""
    return current_user_model()


def model_choices(zoo: list[str] | None = None) -> list[ModelChoice]:
    """The zoo models (``zoo``: these names, default all installed), then this session's loaded upload."""
    choices = [zoo_choice(name) for name in (zoo_names() if zoo is None else zoo)]
    user = session_upload()
    if user is not None:
        choices.append(upload_choice(user))
    return choices


def choice_of(key: str) -> ModelChoice | None:
    """The choice with ``key`` in this session (None: an upload that is no longer loaded)."""
    if not key.startswith(UPLOAD_PREFIX):
        return zoo_choice(key)
    user = session_upload()
    return upload_choice(user) if user is not None and upload_key(user) == key else None


def upload_of(choice: ModelChoice) -> UserModel:
    """The session's upload behind ``choice``; a ValueError when it is no longer loaded."""
    user = session_upload()
    if choice.zoo or user is None or upload_key(user) != choice.key:
        raise ValueError(f"model {choice.title!r} is not loaded in this session any more: upload it on "
                         "the Your-model page")
    return user


def audit_model(choice: ModelChoice) -> torch.nn.Module:
    """The zoo model (shared, eval mode), or the upload's ModelProcess (an nn.Module whose forward
    runs in its child process under the time limit, normalisation applied there)."""
    if choice.zoo:
        from dashboard.common.models import load_zoo_model

        return load_zoo_model(choice.key)
    return upload_of(choice).process


def preprocess_of(choice: ModelChoice) -> Preprocess:
    """How images are framed for ``choice``: ``Preprocess()`` (128 px, crop, no normalisation) for
    zoo models, the upload's own settings otherwise."""
    return Preprocess() if choice.zoo else upload_of(choice).preprocess


def class_names_of(choice: ModelChoice) -> tuple[str, ...]:
    """The name of each of ``choice``'s outputs, in order."""
    return tuple(CLASSES) if choice.zoo else tuple(upload_of(choice).classes)


def is_cat_dog(choice: ModelChoice) -> bool:
    """Whether ``choice``'s outputs are the zoo's (cat, dog): widgets drawn for two classes can take it."""
    return class_names_of(choice) == tuple(CLASSES)


def shown_class(choice: ModelChoice, probabilities: np.ndarray) -> int:
    """The class whose probability a page plots for ``choice``: "dog" for the zoo (and any cat/dog
    model); for another upload its class of interest, else the predicted class (``probabilities``
    [K] of the image as it is)."""
    names = class_names_of(choice)
    target = None if choice.zoo else upload_of(choice).preprocess.target
    if target is not None:
        return int(target)
    if "dog" in names:
        return names.index("dog")
    return int(np.argmax(probabilities))


# ------------------------------------------------------------------------- the page's frame <-> the model's
def frame_for(choice: ModelChoice, images: torch.Tensor) -> torch.Tensor:
    """The pages' images [B,3,128,128] (the built-in photos' frame) framed for ``choice``: as they
    are for the zoo; resized to an upload's input size (the frame is square, so crop and stretch
    agree) by its :class:`Preprocess`."""
    preprocess = preprocess_of(choice)
    if preprocess.size == images.shape[-1] == images.shape[-2]:
        return images
    return torch.stack([preprocess.frame(Image.fromarray(to_uint8(image))) for image in images])


def to_page(choice: ModelChoice, maps: np.ndarray | torch.Tensor, size: int = FRAME) -> np.ndarray:
    """Maps [B,S,S] at ``choice``'s input size back on the pages' ``size``-px frame [B,size,size]
    (:meth:`Preprocess.to_original`, bilinear)."""
    preprocess = preprocess_of(choice)
    maps = maps.numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps)
    if maps.shape[-1] == size:
        return maps.astype(np.float32, copy=False)
    return np.stack([preprocess.to_original(m, (size, size), fill=0.0).numpy() for m in maps])


# ------------------------------------------------------------------------- computations in the upload's process
def upload_maps(choice: ModelChoice, images: torch.Tensor, method: str, on_wait: WaitCallback | None = None,
                **options: object) -> Maps:
    """``method``'s maps of the upload on the pages' images [B,3,128,128]: computed at its input size
    in its process (time limit, cancel), shown on the 128-px frame; kept in the session."""
    user = upload_of(choice)
    result = user_maps(user, frame_for(choice, images), method, on_wait, **options)
    return Maps(to_page(choice, result.maps, images.shape[-1]), result.probabilities)


def upload_cells(choice: ModelChoice, image: torch.Tensor, n: int, hidden: Iterable[int] = (),
                 on_wait: WaitCallback | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities [K] with ``hidden`` cells hidden, [n², K] with each further cell hidden): the
    same n×n grid over the upload's frame, computed in its process; kept in the session."""
    user = upload_of(choice)
    framed = frame_for(choice, image[None])
    cells = sorted({int(c) for c in hidden})

    def compute() -> tuple[np.ndarray, np.ndarray]:
        result = user.process.cell_occlusion(framed, n, hidden=cells, on_wait=on_wait)
        return result.base[0].float().numpy(), result.cells[0].float().numpy()

    return user_result(user, (digest_of(framed), "cells", str(n), str(cells)), compute)  # type: ignore[return-value]


def upload_fine_map(choice: ModelChoice, image: torch.Tensor, window: int = 16, stride: int = 8,
                    on_wait: WaitCallback | None = None) -> np.ndarray:
    """``saliency_core.occlusion``'s map of the upload on one page image [3,128,128], on the page's
    frame: the window and stride scaled to its input size (the same part of the photo hidden),
    its class of interest (else the prediction) as target; kept in the session."""
    user = upload_of(choice)
    framed = frame_for(choice, image[None])
    scale = framed.shape[-1] / image.shape[-1]
    win, step = max(1, round(window * scale)), max(1, round(stride * scale))
    target = user.preprocess.target

    def compute() -> np.ndarray:
        return user.process.occlusion(framed, window=win, stride=step, target=target, on_wait=on_wait)[0].numpy()

    fine = user_result(user, (digest_of(framed), "fine", str(win), str(step), str(target)), compute)
    return to_page(choice, np.asarray(fine)[None], image.shape[-1])[0]


def waiting(bar: DeltaGenerator, fraction: float, text: str) -> WaitCallback:
    """An ``on_wait`` for an upload's computation: the seconds so far on ``bar``, once a second.
    Each update is also where Streamlit stops the run when the user clicks something: the
    exception it raises ends the model's process (the click's rerun starts again)."""
    shown = [-1]

    def update(seconds: float) -> None:
        if int(seconds) != shown[0]:
            shown[0] = int(seconds)
            bar.progress(min(1.0, fraction), text=f"{text} {int(seconds)} s")

    return update


def run_upload(choice: ModelChoice, what: str, about: str, compute: Callable[[WaitCallback], object], *,
               where: str = "") -> object | None:
    """``compute(on_wait)`` for the upload behind ``choice`` with a progress bar saying ``what`` and the
    seconds spent, and a Cancel button (its click reruns the page, which ends the process; the
    computation, named by ``what`` and ``about`` (which images), then stays stopped until Run
    again). An error (the time limit, a model that fails on these images) is one line on the page;
    a stopped or failed computation returns None. ``where`` tells apart two places of a page
    that show the same computation (their buttons' keys)."""
    from dashboard.common.messages import plain_error

    signature = run_signature([about], [choice.key], [what])
    tag = f"{where}_{signature[:10]}"
    if st.session_state.get(CANCELLED_KEY) == signature:
        st.info(f"{what[:1].upper() + what[1:]} on **{choice.title}** was stopped.", icon=":material/stop_circle:")
        st.button("Run again", key=f"run_again_{tag}", on_click=run_again, icon=":material/replay:")
        return None
    bar = st.progress(0.0, text=f"{choice.title}: {what}…")
    stop = st.empty()
    stop.button("Cancel", key=f"cancel_{tag}", on_click=cancel_run, args=(signature,), icon=":material/stop:",
                help="Stops your model's process now.")
    try:
        result = compute(waiting(bar, 0.5, f"{choice.title}: {what}…"))
    except ValueError as error:  # TimeLimitExceeded, Cancelled, a model that does not fit the images
        st.error(f"{what[:1].upper() + what[1:]} failed on **{choice.title}**: {plain_error(error)}", icon=":material/error:")
        result = None
    bar.empty()  # not in a finally: after a click's rerun exception, the rerun clears them
    stop.empty()
    return result


def remembered(choice: ModelChoice, key: tuple[str, ...], compute: Callable[[], object]) -> object:
    """``compute()`` kept on the session's upload behind ``choice`` under ``key`` (which must say what it
    is and on which images); a page's table built from the upload's maps, say."""
    return user_result(upload_of(choice), key, compute)
