"""Users' own models: TorchScript, ``torch.export`` or safetensors + an architecture name.

``saliency_core.load_model`` never unpickles, so an uploaded file cannot run code here. It can
still run *long*: a scripted loop in its forward pass would hang the page. So each session's
uploaded model is loaded and run in a child process of its own
(:class:`~saliency_core.zoo.model_process.ModelProcess`) with a time limit per forward pass that
the page lets the user set; the child is killed when the limit passes, when the user cancels, when
any click reruns the page while it computes, when the upload changes or is removed, when it has
been idle for ``IDLE_SECONDS`` (it starts again on demand) and when the session's state is
garbage-collected. At most ``SALIENCY_MODEL_PROCESSES`` children live per server (the least
recently used idle one is stopped to make room). Zoo models stay in this process.

A session's model and its computed maps live in ``st.session_state`` (not in a cache shared by
sessions: each session has its own process).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import streamlit as st
import torch

from dashboard.common.explanations import Maps, digest_of
from dashboard.common.messages import plain_error
from dashboard.common.models import CLASSES
from saliency_core.data.preprocess import Preprocess
from saliency_core.zoo import ARCHITECTURES
from saliency_core.zoo.model_process import (
    DEFAULT_TIMEOUT,
    Cancelled,
    ModelProcess,
    TimeLimitExceeded,
    default_timeout,
)

MODEL_TYPES = ["pt", "ts", "pt2", "safetensors"]
IDLE_SECONDS = 600.0  # a session's model process exits after this long unused; started again on demand
MAPS_KEPT = 64  # computed results kept per session
LIMIT_HINT = "the time limit in section 2"  # how a user raises the limit (in the time-limit message)
CANCELLED_KEY = "ym_cancelled"  # session state: the run_signature of the computation the user stopped
_STATE_KEY = "_ym_user_model"  # session state: this session's UserModel, or the _Failure of its upload

WaitCallback = Callable[[float], None]


@dataclass(eq=False)
class UserModel:
    """A session's uploaded model; ``key`` identifies it (file digest, architecture, class names,
    input size, resize and normalisation: :func:`model_key`). ``preprocess`` says how images are
    framed for it (``classes`` are the model's class names; ``target`` the class of interest)."""

    key: str
    process: ModelProcess
    classes: tuple[str, ...]
    file_name: str = "model"  # the uploaded file's name (its title in model pickers)
    preprocess: Preprocess = field(default_factory=Preprocess)  # input size, resize, normalisation, class
    data: bytes = field(default=b"", repr=False)  # the file (to load it again with other settings)
    architecture: str | None = None  # for safetensors weights
    # results computed in its process (maps, occlusion sweeps…), by what and on which images
    maps: OrderedDict[tuple[str, ...], object] = field(default_factory=OrderedDict)
    # computations stopped at the time limit: (images, method) -> (limit, message); not run again
    # on every rerun, only once the limit is raised
    stopped: dict[tuple[str, ...], tuple[float, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Failure:
    """An upload that could not be loaded: not tried again until it changes (or, after a time
    limit, until the limit is raised)."""

    key: str
    limit: float
    message: str
    timed_out: bool


def architectures() -> list[str]:
    """The architecture names a safetensors upload can be read with."""
    return sorted(ARCHITECTURES)


def default_time_limit() -> float:
    """The time limit the page starts with: ``SALIENCY_MODEL_TIMEOUT`` when valid, else 60 s."""
    try:
        return default_timeout()
    except ValueError:
        return DEFAULT_TIMEOUT


def model_key(data: bytes, architecture: str | None, classes: tuple[str, ...], preprocess: Preprocess) -> str:
    """What identifies a loaded model: the file's digest, architecture, class names and the
    preprocessing its process applies (input size, resize, normalisation; not the class of interest)."""
    frame = f"{preprocess.size}:{preprocess.resize}:{preprocess.normalization}"
    return f"upload:{hashlib.sha256(data).hexdigest()}:{architecture}:{','.join(classes)}:{frame}"


def load_user_model(data: bytes, file_name: str, architecture: str | None, classes: tuple[str, ...],
                    time_limit: float, on_wait: WaitCallback | None = None,
                    preprocess: Preprocess | None = None) -> UserModel:
    """This session's model for the uploaded file (started and loaded on first use, then kept).

    A new upload (or architecture, class names, input size, resize or normalisation) replaces the
    session's model and ends its process; a changed ``time_limit`` applies to the next forward
    pass, a changed class of interest (``preprocess.target``) to the next computation. A file that
    could not be loaded raises the same ValueError again on every rerun without loading it again.
    ``on_wait(seconds)`` is called while the model loads. ``preprocess``: how images are framed
    and normalised for it (default: the zoo's 128-px frame, no normalisation); its ``classes`` are
    replaced by the model's class names.
    """
    preprocess = preprocess or Preprocess()
    suffix = Path(file_name).suffix.lower()
    key = model_key(data, architecture, classes, preprocess)
    held = st.session_state.get(_STATE_KEY)
    if isinstance(held, UserModel) and held.key == key:
        held.process.timeout = time_limit
        if held.preprocess.target != preprocess.target:
            held.preprocess = _with_classes(preprocess, held.classes)
        return held
    if isinstance(held, _Failure) and held.key == key and not (held.timed_out and time_limit > held.limit):
        raise ValueError(held.message)
    release_user_model()
    try:
        process = _start(data, safe_file_name(file_name, suffix), architecture, classes, time_limit, on_wait,
                         preprocess)
        try:
            names = _class_names(classes, process)
            settings = _with_classes(preprocess, names)
        except ValueError:
            process.close()
            raise
    except Cancelled:
        raise
    except (ValueError, MemoryError) as error:
        st.session_state[_STATE_KEY] = _Failure(key, time_limit, plain_error(error),
                                                isinstance(error, TimeLimitExceeded))
        raise
    user = UserModel(key, process, names, Path(file_name).name or "model", settings, data, architecture)
    st.session_state[_STATE_KEY] = user
    return user


def _class_names(classes: tuple[str, ...], process: ModelProcess) -> tuple[str, ...]:
    """The typed names, else the file's, else the zoo's for a two-output model, else "class k"."""
    if classes:
        return classes
    if process.classes:
        return tuple(process.classes)
    if process.outputs in (None, len(CLASSES)):
        return tuple(CLASSES)
    return tuple(f"class {k}" for k in range(process.outputs))


def _with_classes(preprocess: Preprocess, names: tuple[str, ...]) -> Preprocess:
    """``preprocess`` with the model's class names (its class of interest checked against them)."""
    try:
        return replace(preprocess, classes=names)
    except ValueError as error:
        raise ValueError(f"the class of interest does not fit the model: {error}") from None


def _start(data: bytes, name: str, architecture: str | None, classes: tuple[str, ...], time_limit: float,
           on_wait: WaitCallback | None, preprocess: Preprocess) -> ModelProcess:
    if not data:
        raise ValueError("the file is empty")
    settings = {"data": data, "timeout": time_limit, "idle_timeout": IDLE_SECONDS, "limit_hint": LIMIT_HINT,
                "on_wait": on_wait, "normalize": preprocess.normalization}
    try:
        return ModelProcess(name, architecture, list(classes) if classes else None, probe_size=preprocess.size,
                            **settings)
    except (TimeLimitExceeded, Cancelled):
        raise
    except ValueError as error:  # weights that do not fit the typed names?
        if not classes:
            raise
        try:
            ModelProcess(name, architecture, probe_size=None, **settings).close()
        except ValueError:  # no: the file itself is bad; report the first error
            raise error from None
        raise ValueError(f"its weights do not have {len(classes)} output{'s' if len(classes) != 1 else ''}, "
                         "one per class name typed "
                         f"({', '.join(classes)}); type one name per model output, in output "
                         "order, or clear the names to use the file's own") from None


def current_user_model() -> UserModel | None:
    """This session's loaded model, or None (none uploaded, or its upload failed to load)."""
    held = st.session_state.get(_STATE_KEY)
    return held if isinstance(held, UserModel) else None


def release_user_model() -> None:
    """End this session's model process (the upload was removed or replaced)."""
    held = st.session_state.pop(_STATE_KEY, None)
    if isinstance(held, UserModel):
        held.process.close()


def user_maps(user: UserModel, images: torch.Tensor, method: str, on_wait: WaitCallback | None = None,
              **options: object) -> Maps:
    """``method``'s maps of ``user``'s model on ``images`` (already framed at its input size), computed
    in its process for its class of interest (``preprocess.target``; None: the prediction); kept
    per session.

    ``on_wait(seconds)`` is called about every quarter second while the process computes: an
    exception it raises (Streamlit's rerun) stops the computation and ends the process. A
    computation stopped at the time limit raises its TimeLimitExceeded again, without running,
    until the limit is raised.
    """
    target = user.preprocess.target

    def compute() -> Maps:
        result = user.process.explain(images, method, target, on_wait=on_wait, **options)
        return Maps(result.maps.detach().float().cpu().numpy(),
                    result.probabilities.detach().float().cpu().numpy())

    key = (digest_of(images), method, repr((target, sorted(options.items()))))
    return user_result(user, key, compute)  # type: ignore[return-value]


def user_result(user: UserModel, key: tuple[str, ...], compute: Callable[[], object]) -> object:
    """``compute()`` (a call into ``user``'s process) remembered on ``user`` under ``key`` (which must
    say what was computed on which images); stopped at the time limit: raised again, without
    running, until the limit is raised."""
    if key in user.maps:
        user.maps.move_to_end(key)
        return user.maps[key]
    limit, message = user.stopped.get(key, (0.0, ""))
    if user.process.timeout <= limit:
        raise TimeLimitExceeded(message)
    try:
        value = compute()
    except TimeLimitExceeded as error:
        user.stopped[key] = (user.process.timeout, str(error))
        raise
    user.maps[key] = value  # type: ignore[assignment]
    while len(user.maps) > MAPS_KEPT:
        user.maps.popitem(last=False)
    return value


def run_signature(image_digests: Sequence[str], model_keys: Sequence[str], methods: Sequence[str]) -> str:
    """What a computation of the page is about (images, models, methods): a cancelled one stays
    stopped until one of them changes."""
    text = "\n".join(["|".join(image_digests), "|".join(model_keys), "|".join(methods)])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cancel_run(signature: str) -> None:
    """The Cancel button's callback (it runs before the rerun that stops the computation)."""
    st.session_state[CANCELLED_KEY] = signature


def run_again() -> None:
    """The Run-again button's callback."""
    st.session_state.pop(CANCELLED_KEY, None)


def safe_file_name(name: str, suffix: str) -> str:
    """``name``'s stem as a harmless file name (letters, digits, ``-_.``) with ``suffix``."""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).stem)[:80].strip(".")
    return f"{stem or 'model'}{suffix}"
