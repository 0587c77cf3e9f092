"""A user's model in a child process: a time limit per forward pass, and a way to cancel.

A forward pass of a user's TorchScript or ``torch.export`` model runs in C++: no thread can
interrupt it and Python signals wait until it returns, so a scripted ``while True:`` would hang
its caller for good. :class:`ModelProcess` loads the file with :func:`~saliency_core.zoo.load_model`
in a child process and runs the library's work there (``explain``, ``occlusion``,
``cell_occlusion``, logits); a call that stops making progress is ended by killing the child::

    with ModelProcess("my_model.pt", timeout=30) as model:
        exp = model.explain(images, "gradient_squared")   # an Explanation, as saliency_core.explain
        maps = model.occlusion(images, window=16, stride=8)

**The limit** (``timeout`` seconds, default ``SALIENCY_MODEL_TIMEOUT`` or 60) is per forward pass:
the child reports each forward pass of the model starting and ending, each backward pass starting
and each occlusion chunk finishing, and the call is stopped when no such report has come for
``timeout`` seconds. A method's many passes can take far longer in all. Loading gets
``start_timeout`` (default 120 s); the first forward pass after loading (on a zero image, the
*probe*) gets ``timeout``, so a model that hangs on any input is caught when it is loaded. On
expiry the child is terminated (then killed) and the call raises :class:`TimeLimitExceeded`, a
one-line ValueError. :meth:`ModelProcess.cancel` stops a running call from another thread
(:class:`Cancelled`); any exception while waiting (KeyboardInterrupt, Streamlit's rerun, an
exception from ``on_wait``) kills the child before it propagates. The next call starts a new child
(the file's bytes are kept, so the file may be gone by then).

**Start cost**: children fork from multiprocessing's *forkserver* with torch and the library
preloaded: the first start in a process takes about 1.5 s (the forkserver imports torch), later
ones about 10 ms plus loading the model. Under ``spawn`` (where there is no forkserver) each start
imports torch again (1-2 s). As with any multiprocessing code, a script that creates a
ModelProcess needs an ``if __name__ == "__main__":`` guard.

**Leaks**: a child is a daemon (multiprocessing ends it at exit); a finalizer kills it when its
ModelProcess is garbage-collected; a child watches its caller and exits when the caller is gone,
and with ``idle_timeout`` it exits after that long without a request (the next call starts it
again). At most ``SALIENCY_MODEL_PROCESSES`` (default 8) children live per process: starting one
more stops the least recently used idle one, or fails when all are busy.

**Results** equal in-process results exactly: the same kernels and the same number of torch
threads, and the global random generator travels to the child and back (methods that draw noise
without a ``seed`` draw what they would have drawn in-process). Errors raised in the child come
back as one-line ValueErrors (MemoryError stays MemoryError). What comes back is read with
``torch.load(weights_only=True)``: tensors, numbers and strings, never a pickle that runs code.
Progress callbacks (``progress=``) are called in the caller's thread.
"""

from __future__ import annotations

import io
import math
import contextlib
import multiprocessing
import multiprocessing.connection
import multiprocessing.spawn
import os
import signal
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from saliency_core.errors import one_line_error

DEFAULT_TIMEOUT = 60.0  # seconds per forward pass, unless SALIENCY_MODEL_TIMEOUT says otherwise
DEFAULT_START_TIMEOUT = 120.0  # seconds to start a child and load the model into it
TIMEOUT_ENV = "SALIENCY_MODEL_TIMEOUT"
MAX_PROCESSES_ENV = "SALIENCY_MODEL_PROCESSES"
DEFAULT_MAX_PROCESSES = 8

_POLL = 0.05  # seconds between looks at the child while waiting
_ON_WAIT_EVERY = 0.25  # seconds between on_wait calls
_BEAT_EVERY = 0.1  # the child reports progress at most this often
_WATCH_EVERY = 0.5  # the child looks for its caller this often
# Imported once by the forkserver, so that a child starts in milliseconds.
# torch's export deserializer is imported on first use by the loader: 2-3 s that each child would
# otherwise spend again on every .pt2 file.
_PRELOAD = ["__main__", "torch", "torch._export.serde.serialize", "saliency_core.methods",
            "saliency_core.methods.occlusion", "saliency_core.zoo.loading", "saliency_core._ext", __name__]

WaitCallback = Callable[[float], None]
ProgressCallback = Callable[[int, int], None]


class TimeLimitExceeded(ValueError):
    """A forward pass (or loading) of a user's model did not finish within the time limit."""


class Cancelled(ValueError):
    """The call was stopped by :meth:`ModelProcess.cancel`."""


class _EndedIdle(Exception):
    """The child ended on its own (idle) before it took the request: start another, send again."""


def default_timeout() -> float:
    """``SALIENCY_MODEL_TIMEOUT`` (seconds per forward pass) when set to a positive number, else 60."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        return _check_seconds(TIMEOUT_ENV, float(text))
    except ValueError:
        raise ValueError(f"{TIMEOUT_ENV} must be a positive number of seconds, got {text!r}") from None


def _check_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def _seconds(value: float) -> str:
    return f"{value:g} s"


# ------------------------------------------------------------------------------ messages


def _encode(value: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def _decode(data: bytes) -> Any:
    # weights_only: tensors, numbers, strings and containers; never a pickle that runs code
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _plain(value: Any) -> Any:
    """``value`` with only what :func:`_decode` reads: tensors, numbers, strings, containers."""
    if isinstance(value, Tensor):
        return value.detach().cpu()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            return torch.from_numpy(np.ascontiguousarray(value))
        if isinstance(value, np.generic):
            return value.item()
    except ImportError:  # pragma: no cover - numpy comes with torch
        pass
    return repr(value)


def _outgoing(images: Tensor) -> Tensor:
    """``images`` to send: detached, and only their own elements (a view would send its whole storage)."""
    if not isinstance(images, Tensor):
        raise ValueError(f"images must be a float tensor [B,C,H,W], got {type(images).__name__}")
    return images.detach().cpu().clone()


def _sendable(name: str, value: Any) -> Any:
    """``value`` as it can go to the child (tensors, numbers, strings, None and containers of them),
    or a ValueError naming ``name``."""
    if isinstance(value, Tensor):
        return value.detach().cpu().clone()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_sendable(name, v) for v in value)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _sendable(name, v) for k, v in value.items()}
    raise ValueError(f"{name}: a {type(value).__name__} cannot be sent to the model's process "
                     "(tensors, numbers, strings and lists of them can)")


def _options(options: dict[str, Any]) -> dict[str, Any]:
    return {key: _sendable(key, value) for key, value in options.items()}


# ------------------------------------------------------------------------------ the child


class _Beat:
    """Tells the caller the child is making progress: a forward pass starts or ends, a backward
    pass starts, an occlusion chunk is done. At most every ``_BEAT_EVERY`` seconds."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self.conn = conn
        self.last = 0.0

    def __call__(self, *_: Any) -> None:
        now = time.monotonic()
        if now - self.last >= _BEAT_EVERY:
            self.last = now
            self.conn.send_bytes(b"B")

    def after_forward(self, _module: nn.Module, _inputs: Any, output: Any) -> None:
        self()
        if isinstance(output, Tensor) and output.requires_grad:
            output.register_hook(self._backward)

    def _backward(self, _grad: Tensor) -> None:
        self()


def _watch_caller(caller: int) -> None:
    """End this child when the process that started it is gone (killed, crashed)."""
    while True:
        time.sleep(_WATCH_EVERY)
        try:
            os.kill(caller, 0)
        except ProcessLookupError:
            os._exit(3)
        except PermissionError:  # exists, owned by someone else: the pid was reused
            os._exit(3)


def _serve(conn: multiprocessing.connection.Connection, caller: int, env: dict[str, str],
           idle_timeout: float | None) -> None:
    """The child: load a model, then answer requests until told to stop or left alone."""
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle (it kills us)
    threading.Thread(target=_watch_caller, args=(caller,), daemon=True, name="watch-caller").start()
    beat = _Beat(conn)
    state: dict[str, Any] = {}
    conn.send_bytes(b"B")  # started
    while True:
        try:
            if idle_timeout is not None and not conn.poll(idle_timeout):
                return
            raw = conn.recv_bytes()
            conn.send_bytes(b"B")  # received
        except (EOFError, OSError):
            return
        request: dict[str, Any] = {}
        reply: dict[str, Any]
        try:
            request = _decode(raw)
            if "threads" in request and request["threads"] != torch.get_num_threads():
                torch.set_num_threads(request["threads"])
            if "rng" in request:
                torch.set_rng_state(request["rng"])
            reply = {"result": _plain(_handle(request, state, beat, conn))}
        except BaseException as error:  # noqa: BLE001 - every failure goes back as one line
            ours = isinstance(error, (ValueError, MemoryError))  # the library's and the loader's messages
            reply = {"error": one_line_error(error, typed=not ours),
                     "kind": "MemoryError" if isinstance(error, MemoryError) else "ValueError"}
        if "rng" in request:
            reply["rng"] = torch.get_rng_state()
        try:
            conn.send_bytes(b"R" + _encode(reply))
        except (EOFError, OSError):
            return


def _progress(request: dict[str, Any], beat: _Beat, conn: multiprocessing.connection.Connection) -> ProgressCallback:
    """A progress callback for the library: it beats, and forwards to the caller when asked."""
    forward = bool(request.get("progress"))

    def progress(done: int, total: int) -> None:
        beat()
        if forward:
            conn.send_bytes(b"P" + f"{int(done)} {int(total)}".encode())

    return progress


def _handle(request: dict[str, Any], state: dict[str, Any], beat: _Beat,
            conn: multiprocessing.connection.Connection) -> Any:
    op = request["op"]
    if op == "load":
        from saliency_core.zoo.loading import load_model

        with tempfile.TemporaryDirectory(prefix="saliency-model-") as folder:
            path = Path(folder) / request["name"]  # the user's file name: messages name the file they know
            path.write_bytes(request["data"])
            model = load_model(path, architecture=request["architecture"], classes=request["classes"],
                               **request["options"])
        if request.get("normalize") is not None:  # outside the user's model: saliency stays in pixels
            from saliency_core.data.preprocess import Normalized

            model = Normalized(model, *request["normalize"])
        model.register_forward_pre_hook(lambda *_: beat())
        model.register_forward_hook(beat.after_forward)
        state["model"] = model
        classes = getattr(model, "classes", None)
        return {"classes": list(classes) if classes is not None else None}
    model = state["model"]
    if op == "probe":
        with torch.no_grad():
            logits = model(torch.zeros(1, 3, request["size"], request["size"]))
        return {"outputs": int(logits.shape[1]) if isinstance(logits, Tensor) and logits.dim() == 2 else None}
    if op == "logits":
        with torch.no_grad():
            return model(request["images"])
    options = dict(request["options"])
    if op == "explain":
        from saliency_core.methods import explain

        if request["method"] == "occlusion" or request.get("progress"):
            options["progress"] = _progress(request, beat, conn)
        result = explain(model, request["images"], request["method"], target=request["target"], **options)
        return {"maps": result.maps, "attributions": result.attributions, "target": result.target,
                "probabilities": result.probabilities, "method": result.method, "extras": result.extras}
    if op == "occlusion":
        from saliency_core.methods.occlusion import occlusion

        return occlusion(model, request["images"], progress=_progress(request, beat, conn), **options)
    if op == "cell_occlusion":
        from saliency_core.methods.occlusion import cell_occlusion

        result = cell_occlusion(model, request["images"], request["n"], progress=_progress(request, beat, conn),
                                **options)
        grid = result.grid
        return {"n": grid.n, "height": grid.height, "width": grid.width, "hidden": list(result.hidden),
                "base": result.base, "cells": result.cells}
    raise ValueError(f"unknown request {op!r}")


# ------------------------------------------------------------------------------ the caller's side

_CONTEXT: Any = None
_CONTEXT_LOCK = threading.Lock()


def _context() -> Any:
    """multiprocessing's forkserver (torch and the library preloaded), or spawn where there is none."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            if "forkserver" in multiprocessing.get_all_start_methods():
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(_PRELOAD)  # no effect when a forkserver already runs
            else:  # pragma: no cover - Windows
                context = multiprocessing.get_context("spawn")
            _CONTEXT = context
        return _CONTEXT


_START_LOCK = threading.Lock()


@contextlib.contextmanager
def _without_main() -> Any:
    """Start children without re-running the caller's ``__main__``: multiprocessing's spawn and
    forkserver children import it by default, which re-runs a Streamlit page (under AppTest the app
    script is ``__main__``) or an unguarded user script. The child's target lives in this module,
    so it needs nothing from ``__main__``."""
    original = multiprocessing.spawn.get_preparation_data

    def preparation(name: str) -> dict[str, Any]:
        data = original(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    with _START_LOCK:
        multiprocessing.spawn.get_preparation_data = preparation
        try:
            yield
        finally:
            multiprocessing.spawn.get_preparation_data = original


class _Child:
    """The current child process and its connection; what the finalizer kills."""

    def __init__(self) -> None:
        self.process: Any = None
        self.conn: multiprocessing.connection.Connection | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def signal_stop(self) -> None:
        """Terminate without waiting (safe from any thread)."""
        process = self.process
        if process is not None:
            try:
                process.terminate()
            except (OSError, ValueError, AttributeError):
                pass

    def kill(self) -> None:
        """Terminate, then kill, and reap; close the connection."""
        process, conn = self.process, self.conn
        self.process = self.conn = None
        if process is not None:
            try:
                if process.is_alive():
                    process.terminate()
                    process.join(1.0)
                if process.is_alive():
                    process.kill()
                process.join(5.0)
                process.close()
            except (OSError, ValueError, AttributeError):
                pass
        if conn is not None:
            conn.close()


_LIVE: OrderedDict[int, weakref.ref[ModelProcess]] = OrderedDict()  # least recently used first
_LIVE_LOCK = threading.Lock()


def max_processes() -> int:
    """How many model children may live at once in this process (``SALIENCY_MODEL_PROCESSES``, default 8)."""
    text = os.environ.get(MAX_PROCESSES_ENV, "").strip()
    try:
        return max(1, int(text)) if text else DEFAULT_MAX_PROCESSES
    except ValueError:
        return DEFAULT_MAX_PROCESSES


def live_processes() -> list[ModelProcess]:
    """The ModelProcess objects whose child is running, least recently used first."""
    with _LIVE_LOCK:
        found = [ref() for ref in _LIVE.values()]
    return [p for p in found if p is not None and p.running]


def _make_room(starting: ModelProcess) -> None:
    """Stop least recently used idle children until ``starting`` may start one."""
    limit = max_processes()
    with _LIVE_LOCK:
        for key, ref in list(_LIVE.items()):
            other = ref()
            if other is None or not other.running:
                del _LIVE[key]
        others = [ref() for key, ref in _LIVE.items() if key != id(starting)]
    running = [o for o in others if o is not None]
    for other in list(running):
        if len(running) < limit:
            break
        if other._call_lock.acquire(blocking=False):  # idle: nobody waits on it
            try:
                other.stop()
            finally:
                other._call_lock.release()
            running.remove(other)
    if len(running) >= limit:
        raise ValueError(f"{starting.name}: {len(running)} model processes are busy (the most that may run at "
                         f"once is {limit}, {MAX_PROCESSES_ENV}); try again when one has finished")


def _used(process: ModelProcess) -> None:
    with _LIVE_LOCK:
        _LIVE.pop(id(process), None)
        _LIVE[id(process)] = weakref.ref(process)


def _forget(key: int) -> None:
    with _LIVE_LOCK:
        _LIVE.pop(key, None)


class ModelProcess(nn.Module):
    """A user's model file, loaded and run in a child process under a time limit per forward pass.

    ``path``: a model file for :func:`~saliency_core.zoo.load_model` (with ``architecture``,
    ``classes`` and ``options`` as there); or give its bytes as ``data`` and its file name as
    ``path``. The file is read once, here. The child starts and loads the model before the
    constructor returns (load errors are the loader's one-line ValueErrors), then runs one forward
    pass on a zero image of ``probe_size`` pixels under the limit (its errors are ignored: only a
    hang fails the load).

    ``timeout``: the limit per forward pass in seconds (default :func:`default_timeout`); it may be
    changed later (``model.timeout = 120``). ``start_timeout``: for starting a child and loading.
    ``idle_timeout``: the child exits after this long without a request (None: never).
    ``limit_hint``: how the user raises the limit, for the time-limit message. ``on_wait``: see below.
    ``normalize``: (mean, std), three numbers each: the child runs the model behind
    :class:`~saliency_core.data.preprocess.Normalized` (its input is [0, 1] pixels).

    It is also an ``nn.Module`` whose forward returns the logits computed in the child, so code
    that only runs the model forward can take it; gradients do not cross processes, so for
    saliency use its methods (or :func:`explain`, :func:`occlusion`, :func:`cell_occlusion` of
    this module, which take either kind of model). One call at a time; calls from other threads wait.

    Each call (and the constructor) takes ``on_wait(seconds)``: called in the caller's thread about
    every quarter second while it waits for the child, with the seconds waited; an exception it
    raises (e.g. Streamlit's rerun) stops the call, ends the child and propagates.
    """

    def __init__(self, path: str | os.PathLike[str], architecture: str | None = None,
                 classes: Sequence[str] | None = None, *, data: bytes | None = None,
                 timeout: float | None = None, start_timeout: float = DEFAULT_START_TIMEOUT,
                 idle_timeout: float | None = None, probe_size: int | None = 128,
                 limit_hint: str | None = None, on_wait: WaitCallback | None = None,
                 normalize: tuple[Sequence[float], Sequence[float]] | None = None, **options: Any) -> None:
        super().__init__()
        path = Path(path)
        self.timeout = default_timeout() if timeout is None else timeout
        self.start_timeout = _check_seconds("start_timeout", start_timeout)
        self.idle_timeout = None if idle_timeout is None else _check_seconds("idle_timeout", idle_timeout)
        if data is None:
            if path.is_dir():
                raise ValueError(f"{path} is a directory, not a model file (TorchScript, .pt2, safetensors or a "
                                 "state dict)")
            if not path.is_file():
                raise FileNotFoundError(f"no model file at {path}")
            data = path.read_bytes()
        self.name = path.name or "model"
        self._data = bytes(data)
        self._load = {"architecture": architecture, "classes": list(classes) if classes is not None else None,
                      "options": dict(options),
                      "normalize": None if normalize is None else [[float(v) for v in normalize[0]],
                                                                   [float(v) for v in normalize[1]]]}
        self.limit_hint = limit_hint or f"timeout= (or {TIMEOUT_ENV})"
        self.probe_size = probe_size
        self.classes: tuple[str, ...] | None = None  # as load_model sets them (None: the file has none)
        self.outputs: int | None = None  # the number of outputs, from the probe (None: unknown)
        self.probe_error: str | None = None  # why the probe failed, if it did (not a time limit)
        self._child = _Child()
        self._call_lock = threading.RLock()
        self._cancel = threading.Event()
        self._busy = False
        self._closed = False
        self._finalizer = weakref.finalize(self, _finish, self._child, id(self))
        try:
            with self._call_lock:
                self._start(probe=probe_size is not None, on_wait=on_wait)
        except BaseException:
            self.close()
            raise

    # -------------------------------------------------------------------------------- settings
    @property
    def timeout(self) -> float:
        """Seconds a forward pass may take (more precisely: the longest wait for a sign of progress)."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: float) -> None:
        self._timeout = _check_seconds("timeout", value)

    @property
    def running(self) -> bool:
        """Whether a child is running now (it is started again by the next call when not)."""
        return self._child.alive

    @property
    def busy(self) -> bool:
        """Whether a call is in progress."""
        return self._busy

    @property
    def pid(self) -> int | None:
        """The running child's process id, or None."""
        process = self._child.process
        return process.pid if process is not None and self._child.alive else None

    def extra_repr(self) -> str:
        return f"{self.name!r}, timeout={self.timeout:g}"

    # -------------------------------------------------------------------------------- lifecycle
    def cancel(self) -> None:
        """Stop the call in progress, if any (from any thread): it raises :class:`Cancelled`."""
        if self._busy:
            self._cancel.set()
            self._child.signal_stop()

    def stop(self) -> None:
        """End the child now (a call in progress is cancelled); the next call starts a new one."""
        self.cancel()
        with self._call_lock:
            self._child.kill()
        _forget(id(self))

    def close(self) -> None:
        """End the child for good; later calls raise ValueError."""
        self._closed = True
        self.cancel()
        self._child.kill()
        _forget(id(self))

    def __enter__(self) -> ModelProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -------------------------------------------------------------------------------- calls
    def explain(self, images: Tensor, method: str, target: Any = None, *,
                on_wait: WaitCallback | None = None, **options: Any) -> Any:
        """``saliency_core.explain(model, images, method, target, **options)`` in the child."""
        from saliency_core.methods import Explanation

        progress = options.pop("progress", None)
        reply = self._call({"op": "explain", "images": _outgoing(images), "method": method,
                            "target": _sendable("target", target), "options": _options(options)},
                           progress, on_wait)
        return Explanation(reply["maps"], reply["attributions"], reply["target"], reply["probabilities"],
                           reply["method"], reply["extras"])

    def occlusion(self, images: Tensor, *, on_wait: WaitCallback | None = None, **options: Any) -> Tensor:
        """``saliency_core.occlusion(model, images, **options)`` in the child."""
        progress = options.pop("progress", None)
        return self._call({"op": "occlusion", "images": _outgoing(images), "options": _options(options)},
                          progress, on_wait)

    def cell_occlusion(self, images: Tensor, n: int, *, on_wait: WaitCallback | None = None,
                       **options: Any) -> Any:
        """``saliency_core.cell_occlusion(model, images, n, **options)`` in the child."""
        from saliency_core.methods.occlusion.cells import CellGrid, CellOcclusion

        progress = options.pop("progress", None)
        if "hidden" in options:
            options["hidden"] = list(options["hidden"])
        reply = self._call({"op": "cell_occlusion", "images": _outgoing(images), "n": _sendable("n", n),
                            "options": _options(options)}, progress, on_wait)
        return CellOcclusion(CellGrid(reply["n"], reply["height"], reply["width"]), tuple(reply["hidden"]),
                             reply["base"], reply["cells"])

    def logits(self, images: Tensor, *, on_wait: WaitCallback | None = None) -> Tensor:
        """The model's output on ``images``, computed in the child (no gradients)."""
        return self._call({"op": "logits", "images": _outgoing(images)}, None, on_wait)

    def predict(self, images: Tensor, *, on_wait: WaitCallback | None = None) -> Tensor:
        """The predicted class of each image (LongTensor [B])."""
        return self.logits(images, on_wait=on_wait).argmax(1)

    def forward(self, images: Tensor) -> Tensor:
        if torch.is_grad_enabled() and isinstance(images, Tensor) and images.requires_grad:
            raise ValueError(f"{self.name} runs in another process, where gradients cannot follow: use "
                             "its explain() (or model_process.explain) for saliency")
        return self.logits(images)

    # -------------------------------------------------------------------------------- internals
    def _call(self, request: dict[str, Any], progress: ProgressCallback | None,
              on_wait: WaitCallback | None) -> Any:
        if self._closed:
            raise ValueError(f"{self.name}: this model process was closed")
        with self._call_lock:
            if not self._child.alive:
                self._child.kill()  # reap a child that ended (idle, killed)
                self._start(probe=False, on_wait=on_wait)
            _used(self)
            request = {**request, "progress": progress is not None, "threads": torch.get_num_threads(),
                       "rng": torch.get_rng_state()}
            try:
                return self._request(request, self.timeout, "a forward pass", progress, on_wait)
            except _EndedIdle:  # it reached its idle timeout as the request went out
                self._start(probe=False, on_wait=on_wait)
                return self._request(request, self.timeout, "a forward pass", progress, on_wait)

    def _start(self, *, probe: bool, on_wait: WaitCallback | None = None) -> None:
        _make_room(self)
        context = _context()
        ours, theirs = context.Pipe(duplex=True)
        env = {k: v for k, v in os.environ.items() if k.startswith("SALIENCY_")}
        process = context.Process(target=_serve, args=(theirs, os.getpid(), env, self.idle_timeout),
                                  name=f"model:{self.name[:40]}", daemon=True)
        self._child.process, self._child.conn = process, ours
        try:
            with _without_main():
                process.start()
        except Exception as error:  # noqa: BLE001 - e.g. a script without a __main__ guard
            self._child.kill()
            raise ValueError(f"{self.name}: the model process could not start ({one_line_error(error)}); "
                             "a script that loads user models needs an `if __name__ == \"__main__\":` guard") from None
        finally:
            theirs.close()
        _used(self)
        loaded = self._request({"op": "load", "data": self._data, "name": self.name, **self._load},
                               self.start_timeout, "loading the model", None, on_wait, started=False)
        self.classes = tuple(loaded["classes"]) if loaded["classes"] is not None else None
        if probe:
            try:
                reply = self._request({"op": "probe", "size": int(self.probe_size or 128)}, self.timeout,
                                      "a forward pass", None, on_wait)
            except TimeLimitExceeded:
                raise
            except (ValueError, MemoryError) as error:
                if not self._child.alive:
                    raise
                self.probe_error = one_line_error(error)
            else:
                self.outputs = reply["outputs"]

    def _request(self, request: dict[str, Any], limit: float, what: str, progress: ProgressCallback | None,
                 on_wait: WaitCallback | None, *, started: bool = True) -> Any:
        """Send ``request``, wait for the reply with the limit; kill the child on anything but a reply."""
        conn, process = self._child.conn, self._child.process
        assert conn is not None and process is not None
        self._cancel.clear()
        self._busy = True
        try:
            if started:
                conn.send_bytes(_encode(request))
            reply = self._wait(conn, process, limit, what, progress, on_wait,
                               request if not started else None)
        except BaseException:
            self._child.kill()
            raise
        finally:
            self._busy = False
        if "rng" in reply:
            torch.set_rng_state(reply["rng"])
        if "error" in reply:
            if not self._child.alive:
                self._child.kill()
            kind = reply.get("kind")
            raise (MemoryError if kind == "MemoryError" else ValueError)(reply["error"])
        return reply["result"]

    def _wait(self, conn: multiprocessing.connection.Connection, process: Any, limit: float, what: str,
              progress: ProgressCallback | None, on_wait: WaitCallback | None,
              send_when_started: dict[str, Any] | None) -> dict[str, Any]:
        start = last_sign = next_on_wait = time.monotonic()
        sentinel = process.sentinel
        taken = send_when_started is not None  # whether the child has said it took the request
        while True:
            if self._cancel.is_set():
                raise Cancelled(f"{self.name}: stopped (cancelled)")
            ready = multiprocessing.connection.wait([conn, sentinel], timeout=_POLL)
            now = time.monotonic()
            if conn in ready:
                try:
                    message = conn.recv_bytes()
                except (EOFError, OSError):
                    message = b""
                if message[:1] == b"B":
                    last_sign, taken = now, True
                    if send_when_started is not None:  # the child runs: now it gets its request
                        conn.send_bytes(_encode(send_when_started))
                        send_when_started = None
                    continue
                if message[:1] == b"P":
                    last_sign = now
                    if progress is not None:
                        done, total = (int(v) for v in message[1:].split())
                        progress(done, total)
                    continue
                if message[:1] == b"R":
                    return _decode(message[1:])
                ready = [sentinel]  # EOF: the child is gone
            if sentinel in ready:
                if self._cancel.is_set():
                    raise Cancelled(f"{self.name}: stopped (cancelled)")
                process.join(1.0)
                code = process.exitcode
                if code == 0 and not taken and self.idle_timeout is not None:
                    raise _EndedIdle()
                how = (f"killed by {signal.Signals(-code).name}" if code is not None and code < 0
                       and -code in signal.Signals._value2member_map_ else f"exit code {code}")
                hint = "; out of memory?" if code == -signal.SIGKILL else ""
                raise ValueError(f"{self.name}: the model process ended unexpectedly ({how}{hint})")
            if now - last_sign > limit:
                raise TimeLimitExceeded(
                    f"{self.name}: {what} did not finish within {_seconds(limit)}; stopped"
                    + (f" — raise the limit with {self.limit_hint} if the model is just slow"
                       if what == "a forward pass" else ""))
            if on_wait is not None and now >= next_on_wait:
                next_on_wait = now + _ON_WAIT_EVERY
                on_wait(now - start)


def _finish(child: _Child, key: int) -> None:
    """The finalizer: the ModelProcess is gone (or the interpreter exits), so is its child."""
    child.kill()
    _forget(key)


# ------------------------------------------------------------------------------ either kind of model


def explain(model: nn.Module, images: Tensor, method: str, target: Any = None, **options: Any) -> Any:
    """``saliency_core.explain``, run in the child when ``model`` is a :class:`ModelProcess`."""
    if isinstance(model, ModelProcess):
        return model.explain(images, method, target, **options)
    from saliency_core.methods import explain as explain_here

    return explain_here(model, images, method, target, **options)


def occlusion(model: nn.Module, images: Tensor, **options: Any) -> Tensor:
    """``saliency_core.occlusion``, run in the child when ``model`` is a :class:`ModelProcess`."""
    if isinstance(model, ModelProcess):
        return model.occlusion(images, **options)
    from saliency_core.methods.occlusion import occlusion as occlusion_here

    return occlusion_here(model, images, **options)


def cell_occlusion(model: nn.Module, images: Tensor, n: int, **options: Any) -> Any:
    """``saliency_core.cell_occlusion``, run in the child when ``model`` is a :class:`ModelProcess`."""
    if isinstance(model, ModelProcess):
        return model.cell_occlusion(images, n, **options)
    from saliency_core.methods.occlusion import cell_occlusion as cells_here

    return cells_here(model, images, n, **options)
