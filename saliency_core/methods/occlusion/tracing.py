"""``torch.fx`` tracing that leaves every other thread of the process alone.

While ``torch.fx.Tracer.trace`` runs, it patches process-wide state: ``nn.Module.__call__`` and
``__getattr__`` (submodule calls and parameter reads become graph nodes), the functions registered
with ``torch.fx.wrap``, the ``math`` functions it autowraps (in ``math`` and in each traced
forward's module), and the flag behind ``torch.fx._symbolic_trace.is_fx_tracing()``. Any other
thread running a model meanwhile went through the tracer: 393 of 400 plain forwards failed
("module is not installed as a submodule", "got Proxy") while an app session ran occlusion.

:func:`symbolic_trace` runs torch's own ``Tracer.trace`` with a private copy of its module's
globals, in which two names differ:

- ``_new_patcher`` makes a patcher that installs each replacement behind a dispatcher: the
  tracing thread reaches the replacement, every other thread the original;
- ``_is_fx_tracing_flag`` is the copy's own; the module's flag is meanwhile an object that is
  true only in the tracing thread (what ``is_fx_tracing()`` answers there and elsewhere).

Traces run one at a time (a lock): two tracers patching one attribute restore each other's
originals out of order. A plain ``torch.fx.symbolic_trace`` elsewhere in the process is not covered.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

from torch import fx, nn
from torch.fx import _symbolic_trace as _torch_fx

_LOCK = threading.Lock()
_TRACE = fx.Tracer.trace
_PATCHER: type = getattr(_torch_fx, "_Patcher", object)
# The names the private globals replace must be what Tracer.trace reads: if a torch release
# renames them, tracing is refused (occlusion falls back to full inference) rather than unisolated.
_ISOLABLE = (
    {"_new_patcher", "_is_fx_tracing_flag"} <= set(_TRACE.__code__.co_names)
    and not _TRACE.__code__.co_freevars
    and _PATCHER is not object
)


class _InThread:
    """True only in the thread that made it: the module's tracing flag while this module traces."""

    def __init__(self) -> None:
        self.owner = threading.get_ident()

    def __bool__(self) -> bool:
        return threading.get_ident() == self.owner


class _ThreadPatcher(_PATCHER):  # type: ignore[misc, valid-type]
    """torch's patcher, each replacement acting only in the thread that traces."""

    def __init__(self) -> None:
        super().__init__()
        self.owner = threading.get_ident()

    def patch(self, frame_dict: dict[str, Any], name: str, new_fn: Callable[..., Any],
              deduplicate: bool = True) -> None:
        original = frame_dict.get(name, getattr(builtins, name, None))
        super().patch(frame_dict, name, self._dispatch(original, new_fn), deduplicate)

    def patch_method(self, cls: type, name: str, new_fn: Callable[..., Any], deduplicate: bool = True) -> None:
        super().patch_method(cls, name, self._dispatch(getattr(cls, name), new_fn), deduplicate)

    def _dispatch(self, original: Any, replacement: Callable[..., Any]) -> Callable[..., Any]:
        owner = self.owner

        @functools.wraps(replacement)
        def dispatch(*args: Any, **kwargs: Any) -> Any:
            chosen = replacement if threading.get_ident() == owner else original
            return chosen(*args, **kwargs)

        return dispatch


@contextlib.contextmanager
def _thread_patcher() -> Iterator[_ThreadPatcher]:
    with _ThreadPatcher() as patcher:  # its __exit__ reverts every patch, last first
        yield patcher


def symbolic_trace(model: nn.Module) -> fx.GraphModule:
    """``torch.fx.symbolic_trace(model)`` whose patches no other thread sees; RuntimeError when
    this torch's tracer cannot be isolated."""
    if not _ISOLABLE:
        raise RuntimeError("this torch version's fx tracer cannot be isolated from other threads")
    scope = {**vars(_torch_fx), "_new_patcher": _thread_patcher}
    trace = types.FunctionType(_TRACE.__code__, scope, _TRACE.__name__, _TRACE.__defaults__)
    tracer = fx.Tracer()
    with _LOCK:
        flag = _torch_fx._is_fx_tracing_flag
        _torch_fx._is_fx_tracing_flag = _InThread()
        try:
            graph = trace(tracer, model)
        finally:
            _torch_fx._is_fx_tracing_flag = flag
    return fx.GraphModule(tracer.root, graph, type(model).__name__)
