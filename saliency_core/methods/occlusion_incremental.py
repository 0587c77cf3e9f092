"""Exact occlusion deltas by incremental inference (Krypton: Nakandala et al., SIGMOD 2019).

An occluded window changes only a small region of each layer's activations. The unoccluded images
run once with every activation cached; then, for a chunk of windows at once, each layer recomputes
only the region its inputs changed — the changed region grows per layer by the operator's reach
(kernel, dilation, padding) and shrinks by its stride. Each layer's input patch (changed values
plus a halo of cached ones) is assembled for all windows of the chunk, the layer runs once on that
batch of patches, and the result becomes the layer's patch; the global average pool updates the
cached pooled sum from the patch only, after which the (tiny) head runs densely.

The graph is captured with ``torch.fx.symbolic_trace``. Anything the engine cannot prove exact
(an unknown operator on a spatial map, a ``view``/flatten of a spatial map, training-mode
BatchNorm, ceil-mode pooling, …) makes :func:`incremental_deltas` return ``None`` after a log line;
the caller then falls back to batched full inference.

Geometry is separable: a window's changed rows depend only on its row position and its changed
columns only on its column position, so every node keeps one :class:`Axis` per spatial dimension
holding the changed interval for each window row (column) position.

Optional approximation (off by default): ``threshold=τ`` in :func:`build_plan` /
:func:`build_region_plan` is Krypton's projective-field threshold — each windowed layer recomputes
at most ⌈τ × its map extent⌉ rows/columns (the centre of the changed interval) and treats the rest
as unchanged. On the demo CNN it is fast (224² w16 s8: τ=0.5 ≈ 1.3×, τ=0.25 ≈ 2.7× faster than
exact) but inaccurate: the small deep maps (7×7 at 224², 4×4 at 128²) are exactly where it cuts,
see ``docs/PERFORMANCE.md``.
"""

from __future__ import annotations

import copy
import logging
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn

from saliency_core import kernels
from saliency_core.methods.base import Model, Progress

log = logging.getLogger(__name__)

# Patches of one chunk stay within this budget (all nodes' patches counted at once).
MEMORY_BUDGET_BYTES = 256 * 2**20
# Splitting the windows into blocks of similar patch sizes (_Plan.groups) pays only when each block
# still batches many windows: measured on the demo CNN, 729 windows (224², stride 8) run ~20 %
# faster split, 225 windows (128²) ~25 % slower (each block is one more pass over ~45 layers).
GROUPING_MIN_WINDOWS = 400

# The occluded regions: per spatial axis, the [lo, hi) interval of each region position. Region
# (iy, ix) is the rectangle rows [lo_y[iy], hi_y[iy]) × columns [lo_x[ix], hi_x[ix]).
Intervals = tuple[np.ndarray, np.ndarray]
Regions = tuple[Intervals, Intervals]


def window_regions(size: tuple[int, int], window: tuple[int, int], stride: tuple[int, int]) -> Regions:
    """Captum's sliding windows as regions: positions 0, s, 2s, … per axis (the last one clipped)."""
    grid = kernels.window_grid(size, window, stride)
    out = []
    for count, w, s in zip(grid, window, stride):
        lo = np.arange(count, dtype=np.int64) * s
        out.append((lo, lo + w))
    return out[0], out[1]


class Unsupported(Exception):
    """The graph contains something incremental inference cannot reproduce exactly."""


# Element-wise operators: a changed output element depends only on the same input element(s).
_ELEMENTWISE_MODULES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish,
    nn.Hardsigmoid, nn.Hardtanh, nn.Mish, nn.Softplus, nn.Identity, nn.Dropout, nn.Dropout2d,
)
_ELEMENTWISE_FUNCTIONS: set[Any] = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.neg, operator.iadd,
    torch.add, torch.sub, torch.mul, torch.div, torch.relu, torch.sigmoid, torch.tanh, torch.clamp,
    F.relu, F.relu6, F.leaky_relu, F.gelu, F.silu, F.hardswish, F.elu, F.sigmoid, F.tanh,
}
_ELEMENTWISE_METHODS = {"relu", "sigmoid", "tanh", "add", "sub", "mul", "div", "clamp", "neg"}


@dataclass(frozen=True)
class Axis:
    """Changed interval [lo, hi) of one spatial axis of a node, for each window position on it.

    ``size`` is the uniform patch extent (the longest interval) so that all windows batch
    together; ``start`` places each window's patch so it contains [lo, hi) and stays inside the map.
    """

    # numpy, not torch: these arrays are tiny, and tiny torch ops cost milliseconds each on a
    # loaded machine (thread-pool wake-ups).
    lo: np.ndarray
    hi: np.ndarray
    size: int
    start: np.ndarray
    extent: int

    @staticmethod
    def of(lo: np.ndarray, hi: np.ndarray, extent: int) -> Axis:
        lo = np.clip(lo, 0, extent - 1)
        # An empty interval (a strided layer skipping every changed input) is widened to one
        # element: recomputing an unchanged value is still exact.
        hi = np.maximum(np.minimum(hi, extent), lo + 1)
        size = int((hi - lo).max())
        start = np.minimum(lo, extent - size)
        return Axis(lo, hi, size, start, extent)

    def subset(self, positions: np.ndarray) -> Axis:
        """The axis for some of its positions only: the patch size shrinks to their longest interval."""
        return Axis.of(self.lo[positions], self.hi[positions], self.extent)

    def capped(self, threshold: float) -> Axis:
        """Krypton's projective-field threshold: intervals longer than ``threshold`` × the map extent
        (at least one element) keep only their centre; values outside it are treated as unchanged."""
        cap = max(1, int(np.ceil(threshold * self.extent - 1e-9)))
        if self.size <= cap:
            return self
        length = self.hi - self.lo
        lo = np.where(length > cap, self.lo + (length - cap) // 2, self.lo)
        hi = np.minimum(self.hi, lo + cap)
        return Axis.of(lo, hi, self.extent)


@dataclass(frozen=True)
class Reach:
    """Kernel geometry of a windowed operator along one axis."""

    kernel: int
    stride: int
    padding: int
    dilation: int

    def propagate(self, axis: Axis, extent: int) -> Axis:
        """Outputs o with some input o·s − p + j·d (0 ≤ j < k) inside the changed interval."""
        span = (self.kernel - 1) * self.dilation
        lo = (axis.lo + self.padding - span + self.stride - 1) // self.stride
        hi = (axis.hi - 1 + self.padding) // self.stride + 1
        return Axis.of(np.maximum(lo, 0), hi, extent)

    def input_span(self, size: int) -> int:
        """Input extent needed to compute ``size`` outputs without padding."""
        return (size - 1) * self.stride + (self.kernel - 1) * self.dilation + 1


def _pair(value: Any) -> tuple[int, int]:
    return (int(value[0]), int(value[1])) if isinstance(value, (tuple, list)) else (int(value), int(value))


@dataclass
class _Step:
    """One spatial or dense node of the plan and how to evaluate it for a chunk of windows."""

    node: fx.Node
    kind: str  # "input", "window", "elementwise", "cat", "pool_sum", "dense"
    axes: tuple[Axis, Axis] | None = None
    fn: Callable[..., Any] | None = None
    reach: tuple[Reach, Reach] | None = None
    pad_value: float = 0.0
    inputs: tuple[fx.Node, ...] = ()
    margin: int = 0  # how far a windowed operator's input crops reach outside the input map
    cost: float = 1.0  # work per output element of a windowed operator (conv: Cin/g × Cout × kernel area)


class _Plan:
    """The traced graph, the cached activations of the unoccluded images, and each node's axes."""

    def __init__(self, model: nn.Module, images: Tensor, regions: Regions, threshold: float | None = None) -> None:
        self.threshold = threshold
        self._groups: list[tuple[np.ndarray, np.ndarray, _Plan]] | None = None
        try:
            self.graph_module = fx.symbolic_trace(model)
        except Exception as error:  # tracing fails on data-dependent control flow, among others
            raise Unsupported(f"torch.fx could not trace the model ({type(error).__name__}: {error})") from error
        self.modules = dict(self.graph_module.named_modules())
        self.batch = images.shape[0]
        self.height, self.width = images.shape[2], images.shape[3]
        self.grid = (int(regions[0][0].size), int(regions[1][0].size))
        self.cache: dict[fx.Node, Any] = {}
        self._padded: dict[tuple[fx.Node, float], tuple[Tensor, int]] = {}
        self.kind: dict[fx.Node, str] = {}  # "static", "spatial" or "dense"
        self.steps: list[_Step] = []
        self.output: fx.Node | None = None
        self._build(images, regions)

    def padded(self, node: fx.Node, pad: float, margin: int) -> tuple[Tensor, int]:
        """``node``'s cached map, channels-last, padded by ``margin`` with ``pad``: [(B·Hp·Wp), C]."""
        key = (node, pad)
        have = self._padded.get(key)
        if have is None or have[1] < margin:
            value = self.cache[node]
            padded = F.pad(value, (margin,) * 4, value=pad) if margin else value
            table = padded.permute(0, 2, 3, 1).reshape(-1, value.shape[1]).contiguous()
            have = self._padded[key] = (table, margin)
        return have

    def restricted(self, rows: np.ndarray, cols: np.ndarray) -> _Plan:
        """This plan (same graph, same cached activations) for the sub-grid ``rows`` × ``cols`` of
        window positions: each layer's patch only as large as those windows' changed intervals."""
        sub = copy.copy(self)
        sub.grid = (int(rows.size), int(cols.size))
        sub.steps = [replace(st, axes=(st.axes[0].subset(rows), st.axes[1].subset(cols))) if st.axes else st
                     for st in self.steps]
        return sub

    def groups(self) -> list[tuple[np.ndarray, np.ndarray, _Plan]]:
        """The window grid split into up to 3×3 blocks of positions with similar patch sizes.

        One patch size per layer must fit every window batched with it; windows near a border
        change less of the deep layers' small maps than central ones (demo CNN at 224²: 4-5 vs 7
        of 7 rows at the last stage), so batching them apart cuts the computed FLOPs (0.25 → 0.19
        of a full pass there) while staying exact.
        """
        if self._groups is None:
            rows, cols = (_split_positions(self.steps, axis) for axis in (0, 1))
            self._groups = [(r, c, self.restricted(r, c)) for r in rows for c in cols]
        return self._groups

    # ------------------------------------------------------------------ tracing + caching

    def _build(self, images: Tensor, regions: Regions) -> None:
        placeholders = [n for n in self.graph_module.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise Unsupported(f"the model takes {len(placeholders)} inputs, expected 1")
        for node in self.graph_module.graph.nodes:
            if node.op == "placeholder":
                self.cache[node] = images
                self.kind[node] = "spatial"
                axes = tuple(Axis.of(lo, hi, e) for (lo, hi), e in zip(regions, (self.height, self.width)))
                self.steps.append(_Step(node, "input", axes=axes))  # type: ignore[arg-type]
            elif node.op == "get_attr":
                self.cache[node] = self._attr(node.target)
                self.kind[node] = "static"
            elif node.op == "output":
                self._output(node)
            else:
                self._call(node)

    def _attr(self, target: str) -> Any:
        value: Any = self.graph_module
        for name in target.split("."):
            value = getattr(value, name)
        return value

    def _output(self, node: fx.Node) -> None:
        result = node.args[0]
        if not isinstance(result, fx.Node) or self.kind.get(result) != "dense":
            raise Unsupported("the model's output is not a single logits tensor computed after a global pool")
        self.output = result

    def _value(self, arg: Any) -> Any:
        return fx.node.map_arg(arg, lambda n: self.cache[n])

    def _call(self, node: fx.Node) -> None:
        inputs = [n for n in node.all_input_nodes if self.kind[n] != "static"]
        fn = self._callable(node)
        args, kwargs = self._value(node.args), self._value(node.kwargs)
        self.cache[node] = fn(*args, **kwargs)
        if not inputs:
            self.kind[node] = "static"
            return
        spatial = [n for n in inputs if self.kind[n] == "spatial"]
        if not spatial:
            self.kind[node] = "dense"
            self.steps.append(_Step(node, "dense", fn=fn, inputs=tuple(inputs)))
            return
        if len(spatial) != len(inputs):
            raise Unsupported(f"{node.format_node()} mixes spatial maps with pooled values")
        self.steps.append(self._spatial_step(node, fn, tuple(spatial)))
        self.kind[node] = "dense" if self.steps[-1].kind == "pool_sum" else "spatial"
        if self.kind[node] == "spatial":
            self._check_map(node, self.cache[node])

    def _check_map(self, node: fx.Node, value: Any) -> None:
        if not isinstance(value, Tensor) or value.dim() != 4 or value.shape[0] != self.batch:
            raise Unsupported(f"{node.format_node()} does not produce a [B,C,H,W] map")

    def _callable(self, node: fx.Node) -> Callable[..., Any]:
        if node.op == "call_module":
            module = self.modules[str(node.target)]
            if getattr(module, "inplace", False):
                # Cached activations and patches are shared between consumers: never overwrite them.
                module = copy.copy(module)
                module.inplace = False  # type: ignore[assignment]
            return module
        if node.op == "call_function":
            target = node.target
            if node.kwargs.get("inplace"):
                return lambda *a, **k: target(*a, **{**k, "inplace": False})  # type: ignore[operator]
            return target  # type: ignore[return-value]
        name = str(node.target)
        if name.endswith("_") and not name.startswith("__"):
            raise Unsupported(f"in-place method {name!r} cannot be replayed on shared activations")
        return lambda obj, *a, **k: getattr(obj, name)(*a, **k)

    # ------------------------------------------------------------------ spatial operators

    def _spatial_step(self, node: fx.Node, fn: Callable[..., Any], spatial: tuple[fx.Node, ...]) -> _Step:
        out = self.cache[node]
        module = self.modules.get(str(node.target)) if node.op == "call_module" else None
        if isinstance(module, nn.Conv2d):
            return self._conv_step(node, module, spatial[0])
        if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            return self._pool_step(node, module, spatial[0])
        if self._is_global_mean(node, module):
            self._check_map(spatial[0], self.cache[spatial[0]])
            return _Step(node, "pool_sum", inputs=spatial)
        if self._is_cat(node):
            return self._merge_step(node, "cat", fn, spatial, out)
        if self._is_elementwise(node, module):
            for arg in node.all_input_nodes:
                value = self.cache[arg]
                if self.kind[arg] == "static" and isinstance(value, Tensor) and value.dim() >= 2 \
                        and value.shape[-2:].numel() > 1:
                    raise Unsupported(f"{node.format_node()} combines a map with a spatially varying constant")
            return self._merge_step(node, "elementwise", fn, spatial, out)
        raise Unsupported(f"operator {node.format_node()} on a spatial map is not supported")

    def _conv_step(self, node: fx.Node, conv: nn.Conv2d, source: fx.Node) -> _Step:
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str) and conv.padding != "valid":
            raise Unsupported(f"{node.target}: padding {conv.padding!r}/{conv.padding_mode} not supported")
        padding = (0, 0) if isinstance(conv.padding, str) else _pair(conv.padding)
        reach = tuple(Reach(k, s, p, d) for k, s, p, d in
                      zip(_pair(conv.kernel_size), _pair(conv.stride), padding, _pair(conv.dilation)))
        weight, bias, step_stride, dilation, groups = conv.weight, conv.bias, conv.stride, conv.dilation, conv.groups

        def run(patch: Tensor) -> Tensor:
            return F.conv2d(patch, weight, bias, step_stride, 0, dilation, groups)

        cost = conv.in_channels // conv.groups * conv.out_channels * reach[0].kernel * reach[1].kernel
        return self._windowed(node, source, reach, run, 0.0, cost)  # type: ignore[arg-type]

    def _pool_step(self, node: fx.Node, pool: nn.MaxPool2d | nn.AvgPool2d, source: fx.Node) -> _Step:
        if pool.ceil_mode:
            raise Unsupported(f"{node.target}: ceil_mode pooling not supported")
        padding = _pair(pool.padding)
        kernel, stride = _pair(pool.kernel_size), _pair(pool.stride if pool.stride is not None else pool.kernel_size)
        if isinstance(pool, nn.MaxPool2d):
            if pool.return_indices:
                raise Unsupported(f"{node.target}: return_indices not supported")
            dilation = _pair(pool.dilation)

            def run(patch: Tensor) -> Tensor:
                return F.max_pool2d(patch, kernel, stride, 0, dilation)

            pad_value = float("-inf")
        else:
            if not pool.count_include_pad and any(padding):
                raise Unsupported(f"{node.target}: padded AvgPool2d with count_include_pad=False not supported")
            dilation = (1, 1)
            divisor = pool.divisor_override

            def run(patch: Tensor) -> Tensor:
                return F.avg_pool2d(patch, kernel, stride, 0, False, True, divisor)

            pad_value = 0.0
        reach = tuple(Reach(k, s, p, d) for k, s, p, d in zip(kernel, stride, padding, dilation))
        return self._windowed(node, source, reach, run, pad_value,  # type: ignore[arg-type]
                              reach[0].kernel * reach[1].kernel)

    def _windowed(self, node: fx.Node, source: fx.Node, reach: tuple[Reach, Reach],
                  run: Callable[[Tensor], Tensor], pad_value: float, cost: float) -> _Step:
        self._check_map(source, self.cache[source])
        src_axes = self._axes(source)
        out = self.cache[node]
        axes = (reach[0].propagate(src_axes[0], out.shape[2]), reach[1].propagate(src_axes[1], out.shape[3]))
        if self.threshold is not None:
            axes = (axes[0].capped(self.threshold), axes[1].capped(self.threshold))
        margin = 0
        for axis, r, extent in zip(axes, reach, self.cache[source].shape[2:]):
            first = axis.start * r.stride - r.padding
            margin = max(margin, -int(first.min()), int(first.max()) + r.input_span(axis.size) - int(extent))
        return _Step(node, "window", axes=axes, fn=run, reach=reach, pad_value=pad_value, inputs=(source,),
                     margin=margin, cost=float(cost))

    def _merge_step(self, node: fx.Node, kind: str, fn: Callable[..., Any], spatial: tuple[fx.Node, ...],
                    out: Any) -> _Step:
        shapes = {tuple(self.cache[n].shape[2:]) for n in spatial}
        if len(shapes) != 1 or not isinstance(out, Tensor) or tuple(out.shape[2:]) not in shapes:
            raise Unsupported(f"{node.format_node()} broadcasts maps of different sizes")
        per_input = [self._axes(n) for n in spatial]
        axes = tuple(
            Axis.of(np.min([a[d].lo for a in per_input], axis=0), np.max([a[d].hi for a in per_input], axis=0),
                    int(out.shape[2 + d]))
            for d in range(2)
        )
        return _Step(node, kind, axes=axes, fn=fn, inputs=spatial)  # type: ignore[arg-type]

    def _axes(self, node: fx.Node) -> tuple[Axis, Axis]:
        for step in self.steps:
            if step.node is node and step.axes is not None:
                return step.axes
        raise Unsupported(f"{node.format_node()} has no spatial geometry")

    def _is_global_mean(self, node: fx.Node, module: nn.Module | None) -> bool:
        if isinstance(module, nn.AdaptiveAvgPool2d):
            return _pair(module.output_size) == (1, 1)
        if node.op == "call_function" and node.target is F.adaptive_avg_pool2d:
            size = node.args[1] if len(node.args) > 1 else node.kwargs.get("output_size")
            return _pair(size) == (1, 1)
        is_mean = (node.op == "call_function" and node.target is torch.mean) or \
                  (node.op == "call_method" and node.target == "mean")
        if not is_mean:
            return False
        dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        return isinstance(dims, (tuple, list)) and sorted(int(d) % 4 for d in dims) == [2, 3]

    @staticmethod
    def _is_cat(node: fx.Node) -> bool:
        if node.op != "call_function" or node.target is not torch.cat:
            return False
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
        return int(dim) % 4 == 1  # type: ignore[arg-type]

    @staticmethod
    def _is_elementwise(node: fx.Node, module: nn.Module | None) -> bool:
        if module is not None:
            if isinstance(module, nn.BatchNorm2d):
                # Eval-mode BatchNorm with running statistics is a per-channel affine map.
                return not module.training and module.running_mean is not None
            if isinstance(module, (nn.Dropout, nn.Dropout2d)):
                return not module.training
            return isinstance(module, _ELEMENTWISE_MODULES)
        if node.op == "call_function":
            return node.target in _ELEMENTWISE_FUNCTIONS
        return node.op == "call_method" and node.target in _ELEMENTWISE_METHODS


class _Chunk:
    """Evaluation of the plan for some windows (indices in its grid) of every image (rows i·B + b)."""

    def __init__(self, plan: _Plan, windows: np.ndarray, device: torch.device) -> None:
        self.plan = plan
        batch = plan.batch
        nx = plan.grid[1]
        self.row_y = np.repeat(windows // nx, batch)
        self.row_x = np.repeat(windows % nx, batch)
        self.image = torch.arange(batch, device=device).repeat(int(windows.size))
        self.rows = int(self.row_y.size)
        self.device = device
        self.values: dict[fx.Node, Any] = {}
        self.patch_start: dict[fx.Node, tuple[Tensor, Tensor]] = {}

    def starts(self, axes: tuple[Axis, Axis]) -> tuple[Tensor, Tensor]:
        return self.rowwise(axes[0].start, self.row_y), self.rowwise(axes[1].start, self.row_x)

    def rowwise(self, values: np.ndarray, positions: np.ndarray) -> Tensor:
        return torch.from_numpy(values[positions]).to(self.device)

    def gather(self, node: fx.Node, y0: Tensor, height: int, x0: Tensor, width: int, pad: float,
               with_patch: bool = True, margin: int = 0) -> Tensor:
        """[rows, C, height, width] of ``node``'s occluded map at per-row offsets (y0, x0).

        The crops come from the padded channels-last cache with the node's patch pasted over them,
        in one pass of the compiled ``kernels.gather_patches``; the result is channels-last, which
        the convolutions take without a copy. ``margin``: how far (y0, x0, height, width) may reach
        outside the map (known from the plan's geometry).
        """
        cached = self.plan.cache[node]
        table, margin = self.plan.padded(node, pad, margin)
        padded = (int(cached.shape[2]) + 2 * margin, int(cached.shape[3]) + 2 * margin)
        patch = self.values.get(node) if with_patch else None
        offset = None
        if patch is not None:
            py, px = self.patch_start[node]
            offset = (py - y0, px - x0)
        if table.dtype != torch.float32:  # the compiled kernels are float32-only
            out = kernels.reference.gather_patches(table, padded, self.image, y0 + margin, x0 + margin,
                                                   (height, width), patch, offset)
            return out.permute(0, 3, 1, 2)
        return kernels.gather_patches(table, padded, self.image, y0 + margin, x0 + margin, (height, width),
                                      patch, offset)

    def aligned(self, node: fx.Node, axes: tuple[Axis, Axis]) -> Tensor:
        """``node``'s occluded map over the patch boxes of ``axes`` (its own patch when they agree)."""
        y0, x0 = self.starts(axes)
        own = self.patch_start.get(node)
        patch = self.values.get(node)
        if own is not None and patch is not None and patch.shape[2] == axes[0].size \
                and patch.shape[3] == axes[1].size and torch.equal(own[0], y0) and torch.equal(own[1], x0):
            return patch
        return self.gather(node, y0, axes[0].size, x0, axes[1].size, 0.0)

    def run_input(self, step: _Step, images: Tensor, baseline: Tensor) -> None:
        assert step.axes is not None
        y0, x0 = self.starts(step.axes)
        h, w = step.axes[0].size, step.axes[1].size
        clean = self.gather(step.node, y0, h, x0, w, 0.0)
        # Occluded pixels: those inside this row's window [lo, hi) on both axes.
        ys = y0[:, None] + torch.arange(h, device=self.device)
        xs = x0[:, None] + torch.arange(w, device=self.device)
        lo_y, hi_y = self.rowwise(step.axes[0].lo, self.row_y), self.rowwise(step.axes[0].hi, self.row_y)
        lo_x, hi_x = self.rowwise(step.axes[1].lo, self.row_x), self.rowwise(step.axes[1].hi, self.row_x)
        mask = ((ys >= lo_y[:, None]) & (ys < hi_y[:, None]))[:, :, None] & \
               ((xs >= lo_x[:, None]) & (xs < hi_x[:, None]))[:, None, :]
        if baseline.shape[2] == 1:
            base = baseline[:, :, 0, 0][self.image % baseline.shape[0]][:, :, None, None]
        else:
            full = baseline.expand(self.plan.batch, -1, -1, -1).permute(0, 2, 3, 1)
            base = full[self.image[:, None, None], ys[:, :, None], xs[:, None, :]].permute(0, 3, 1, 2)
        self.values[step.node] = torch.where(mask[:, None], base, clean)
        self.patch_start[step.node] = (y0, x0)

    def run(self, step: _Step) -> None:
        node = step.node
        if step.kind == "window":
            assert step.axes is not None and step.reach is not None and step.fn is not None
            y0, x0 = self.starts(step.axes)
            ry, rx = step.reach
            patch = self.gather(step.inputs[0], y0 * ry.stride - ry.padding, ry.input_span(step.axes[0].size),
                                x0 * rx.stride - rx.padding, rx.input_span(step.axes[1].size), step.pad_value,
                                margin=step.margin)
            self.values[node] = step.fn(patch)
            self.patch_start[node] = (y0, x0)
        elif step.kind in ("elementwise", "cat"):
            assert step.axes is not None and step.fn is not None
            axes = step.axes
            local = {n: self.aligned(n, axes) for n in step.inputs}
            lookup = lambda n: local.get(n, self.values.get(n, self.plan.cache[n]))  # noqa: E731
            args = fx.node.map_arg(node.args, lookup)
            kwargs = fx.node.map_arg(node.kwargs, lookup)
            self.values[node] = step.fn(*args, **kwargs)
            self.patch_start[node] = self.starts(axes)
        elif step.kind == "pool_sum":
            self.values[node] = self._pooled(step)
        else:  # dense: the head after the global pool runs on all rows at once
            assert step.fn is not None
            lookup = lambda n: self.values.get(n, self.plan.cache[n])  # noqa: E731
            self.values[node] = step.fn(*fx.node.map_arg(node.args, lookup), **fx.node.map_arg(node.kwargs, lookup))

    def _pooled(self, step: _Step) -> Tensor:
        """Global mean: the cached sum, minus the cached patch box, plus the recomputed patch."""
        source = step.inputs[0]
        patch = self.values[source]
        y0, x0 = self.patch_start[source]
        sums = self.plan.pool_sums[source]
        cached = self.gather(source, y0, patch.shape[2], x0, patch.shape[3], 0.0, with_patch=False)
        # Patch sums in float32 (a converting float64 reduction over channels-last data is ~20× slower);
        # only the large whole-map sums, taken once, need float64.
        change = patch.sum((2, 3)) - cached.sum((2, 3))
        total = sums[self.image] + change.double()
        full = self.plan.cache[source]
        mean = (total / (full.shape[2] * full.shape[3])).to(full.dtype)
        shape = self.plan.cache[step.node].shape
        return mean.reshape(self.rows, *shape[1:])


def _pool_sums(plan: _Plan) -> dict[fx.Node, Tensor]:
    return {s.inputs[0]: plan.cache[s.inputs[0]].sum((2, 3), dtype=torch.float64)
            for s in plan.steps if s.kind == "pool_sum"}


def _bytes_per_window(plan: _Plan) -> int:
    total = 0
    for step in plan.steps:
        value = plan.cache[step.node]
        if step.axes is not None and isinstance(value, Tensor):
            size = step.axes[0].size * step.axes[1].size
            if step.reach is not None:  # the gathered input patch lives alongside
                src = plan.cache[step.inputs[0]]
                size_in = step.reach[0].input_span(step.axes[0].size) * step.reach[1].input_span(step.axes[1].size)
                total += src.shape[1] * size_in * 4
            total += value.shape[1] * size * 4
    return max(1, total) * plan.batch


def _split_positions(steps: list[_Step], axis: int) -> list[np.ndarray]:
    """Up to 3 contiguous runs of window positions along ``axis`` minimising the summed patch
    extents of the windowed layers, each weighted by its per-element cost; a split is kept only when
    it saves at least 5 % (every extra block costs a pass over the layers)."""
    layers = [st for st in steps if st.kind == "window" and st.axes is not None]
    count = steps[0].axes[axis].lo.size  # type: ignore[index]  # steps[0] is the input
    if not layers:
        return [np.arange(count)]
    lengths = np.stack([st.axes[axis].hi - st.axes[axis].lo for st in layers], axis=1).astype(np.float64)
    other = 1 - axis
    weight = np.array([st.axes[other].size * st.cost for st in layers], dtype=np.float64)

    def cost(lo: int, hi: int) -> float:
        return float((hi - lo) * (lengths[lo:hi].max(axis=0) * weight).sum())

    best: list[tuple[float, list[int]]] = [(cost(0, count), [])]
    for cut in range(1, count):
        best.append((cost(0, cut) + cost(cut, count), [cut]))
    for a in range(1, count - 1):
        for b in range(a + 1, count):
            best.append((cost(0, a) + cost(a, b) + cost(b, count), [a, b]))
    lowest = min(c for c, _ in best)
    # the fewest blocks within 5 % of the cheapest split
    _, cuts = min(best, key=lambda item: (item[0] > 1.05 * lowest, len(item[1]), item[0]))
    bounds = [0, *cuts, count]
    return [np.arange(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def _by_group(plan: _Plan, indices: np.ndarray) -> list[tuple[_Plan, np.ndarray, np.ndarray]]:
    """For each block of :meth:`_Plan.groups` holding some of ``indices`` (global, row-major): the
    block's plan, those windows' indices in the block's own grid, and their places in ``indices``."""
    ny, nx = plan.grid
    if indices.size < GROUPING_MIN_WINDOWS:
        return [(plan, indices, np.arange(indices.size))]
    iy, ix = indices // nx, indices % nx
    out = []
    for rows, cols, sub in plan.groups():
        local_y = np.full(ny, -1, dtype=np.int64)
        local_x = np.full(nx, -1, dtype=np.int64)
        local_y[rows] = np.arange(rows.size)
        local_x[cols] = np.arange(cols.size)
        ly, lx = local_y[iy], local_x[ix]
        where = np.nonzero((ly >= 0) & (lx >= 0))[0]
        if where.size:
            out.append((sub, ly[where] * cols.size + lx[where], where))
    return out


def _per_chunk(plan: _Plan, batch_size: int | None) -> int:
    if batch_size:
        return max(1, batch_size // plan.batch)
    return max(1, MEMORY_BUDGET_BYTES // _bytes_per_window(plan))


def build_plan(model: Model, images: Tensor, window: tuple[int, int], stride: tuple[int, int],
               threshold: float | None = None) -> _Plan | None:
    """The traced, cached plan for ``images`` and Captum's windows; None (logged) when the graph is
    not supported. ``threshold``: see :func:`build_region_plan`."""
    size = (images.shape[2], images.shape[3])
    regions = window_regions(size, window, stride)
    if any(int(lo[-1]) >= extent for (lo, _), extent in zip(regions, size)):
        # A stride longer than the window puts Captum's last window past the border: it occludes
        # nothing (Δ = 0), which a region plan cannot express. Such grids are sparse and cheap.
        log.info("incremental occlusion: stride %s > window %s leaves windows past the border; "
                 "using full inference", stride, window)
        return None
    return build_region_plan(model, images, regions, threshold)


def _checked_regions(regions: Regions, size: tuple[int, int]) -> Regions:
    """``regions`` as int64 arrays, or a ValueError naming what is wrong."""
    if len(regions) != 2 or any(len(axis) != 2 for axis in regions):
        raise ValueError("regions must be ((lo_y, hi_y), (lo_x, hi_x))")
    out = []
    for (lo, hi), extent, name in zip(regions, size, ("rows", "columns")):
        lo, hi = np.asarray(lo, dtype=np.int64).reshape(-1), np.asarray(hi, dtype=np.int64).reshape(-1)
        if lo.size == 0 or lo.shape != hi.shape:
            raise ValueError(f"region {name}: lo and hi must be non-empty and of equal length")
        if (lo < 0).any() or (lo >= extent).any() or (hi <= lo).any():
            raise ValueError(f"region {name} must satisfy 0 <= lo < {extent} and lo < hi")
        out.append((lo, np.minimum(hi, extent)))  # a window reaching past the border is clipped there
    return out[0], out[1]


def build_region_plan(model: Model, images: Tensor, regions: Regions, threshold: float | None = None) -> _Plan | None:
    """The traced, cached plan for ``images`` and any separable rectangles (e.g. an uneven grid).

    ``threshold`` (Krypton's projective-field threshold τ, in (0, 1]): every windowed layer
    (convolution, pooling) recomputes at most ⌈τ × its map extent⌉ rows and columns per region, the
    centre of the changed interval; the rest of the changed values are approximated by the cached
    unoccluded ones. ``None`` (default) is exact; ``1.0`` is exact as well (nothing is capped)."""
    if threshold is not None and not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1] or None, got {threshold!r}")
    regions = _checked_regions(regions, (images.shape[2], images.shape[3]))
    if not isinstance(model, nn.Module) or isinstance(model, torch.jit.ScriptModule):
        log.info("incremental occlusion: %s is not a traceable nn.Module; using full inference",
                 type(model).__name__)
        return None
    try:
        with torch.no_grad():
            plan = _Plan(model, images, regions, threshold)
            plan.pool_sums = _pool_sums(plan)  # type: ignore[attr-defined]
    except Unsupported as why:
        log.info("incremental occlusion unavailable (%s); using full inference", why)
        return None
    return plan


def incremental_deltas(model: Model, images: Tensor, window: tuple[int, int], stride: tuple[int, int],
                       baseline: float | Tensor, target: Tensor, batch_size: int | None = None,
                       progress: Progress | None = None) -> Tensor | None:
    """Δ[B, nWin] = f_t(x) − f_t(x with window w at the baseline), windows row-major (iy·nx + ix).

    Exact (to float rounding) incremental inference; None, after a log line saying why, when the
    model's graph cannot be handled.
    """
    plan = build_plan(model, images, window, stride)
    if plan is None:
        return None
    return deltas_from_plan(plan, images, baseline, target, batch_size, progress)


def deltas_from_plan(plan: _Plan, images: Tensor, baseline: float | Tensor, target: Tensor,
                     batch_size: int | None = None, progress: Progress | None = None,
                     windows: Tensor | None = None) -> Tensor:
    """Δ for every window (or, given ``windows``, only those indices: [B, len(windows)])."""
    assert plan.output is not None
    base = kernels._baseline4(baseline, images)
    scores = plan.cache[plan.output].gather(1, target[:, None])[:, 0]
    indices = np.arange(plan.grid[0] * plan.grid[1]) if windows is None else windows.cpu().numpy()
    deltas = torch.empty((plan.batch, int(indices.size)), dtype=torch.float32, device=images.device)
    with torch.no_grad():
        for sub, chunk_windows, places in _chunks(plan, indices, batch_size, progress, images.device):
            out = _chunk_outputs(sub, images, base, chunk_windows)  # rows i·B + b
            occluded = out.gather(1, target.repeat(int(chunk_windows.size))[:, None])[:, 0]
            deltas[:, places] = scores[:, None] - occluded.view(int(chunk_windows.size), plan.batch).T
    return deltas


def outputs_from_plan(plan: _Plan, images: Tensor, baseline: float | Tensor, batch_size: int | None = None,
                      progress: Progress | None = None) -> Tensor:
    """The model's output [B, nRegions, K] with each region at the baseline, regions row-major."""
    assert plan.output is not None
    base = kernels._baseline4(baseline, images)
    clean = plan.cache[plan.output]
    total = plan.grid[0] * plan.grid[1]
    outputs = torch.empty((plan.batch, total, clean.shape[1]), dtype=clean.dtype, device=images.device)
    with torch.no_grad():
        for sub, chunk_windows, places in _chunks(plan, np.arange(total), batch_size, progress, images.device):
            out = _chunk_outputs(sub, images, base, chunk_windows)  # rows i·B + b
            outputs[:, places] = out.view(int(chunk_windows.size), plan.batch, -1).transpose(0, 1)
    return outputs


def _chunks(plan: _Plan, indices: np.ndarray, batch_size: int | None, progress: Progress | None,
            device: torch.device) -> Iterator[tuple[_Plan, np.ndarray, Tensor]]:
    """Per engine pass: the block's plan, the pass's window indices in that block's grid, and their
    places in ``indices``; ``progress(done, total)`` after each pass."""
    done, total = 0, int(indices.size)
    for sub, local, where in _by_group(plan, indices):
        per_chunk = _per_chunk(sub, batch_size)
        for first in range(0, local.size, per_chunk):
            chunk_windows = local[first : first + per_chunk]
            yield sub, chunk_windows, torch.from_numpy(where[first : first + per_chunk]).to(device)
            done += int(chunk_windows.size)
            if progress is not None:
                progress(done, total)


def _chunk_outputs(plan: _Plan, images: Tensor, base: Tensor, windows: np.ndarray) -> Tensor:
    """The model's output [count·B, K] for ``windows`` (indices in ``plan``'s grid), rows i·B + b."""
    chunk = _Chunk(plan, windows, images.device)
    for step in plan.steps:
        if step.kind == "input":
            chunk.run_input(step, images, base)
        else:
            chunk.run(step)
    assert plan.output is not None
    out: Tensor = chunk.values[plan.output]
    return out
