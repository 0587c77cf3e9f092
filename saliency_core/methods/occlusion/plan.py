"""Graph analysis for incremental occlusion: what each layer recomputes when a region is occluded.

The model is traced with torch.fx (:mod:`.tracing`: no other thread sees the tracer's patches) and
the unoccluded images run through the graph node by node, every value cached. Each node that
depends on the images becomes a :class:`Step`: its changed interval per axis and region position
(:mod:`.geometry`), and how to compute it from patches. Anything the analysis cannot prove exact
(an unknown operator on a spatial map, a ``view``/flatten of a spatial map, training-mode
BatchNorm, ceil-mode pooling, …) makes :func:`build_plan` / :func:`build_region_plan` return
``None`` after a log line; the callers then fall back to batched full inference.

Optional approximation (off by default): ``threshold=τ`` is Krypton's projective-field threshold —
each windowed layer recomputes at most ⌈τ × its map extent⌉ rows/columns (the centre of the changed
interval) and treats the rest as unchanged. On the demo CNN it is fast (224² w16 s8: τ=0.5 ≈ 1.3×,
τ=0.25 ≈ 2.7× faster than exact) but inaccurate: the small deep maps (7×7 at 224², 4×4 at 128²) are
exactly where it cuts, see ``docs/PERFORMANCE.md``.
"""

from __future__ import annotations

import copy
import logging
import operator
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn

from saliency_core.checks import check_finite, int_pair
from saliency_core.methods.base import Model
from saliency_core.methods.occlusion import tracing
from saliency_core.methods.occlusion.geometry import Axis, Reach, Regions, checked_regions, window_regions

log = logging.getLogger(__name__)


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


@dataclass
class Step:
    """One spatial or dense node of the plan and how to evaluate it for a chunk of windows."""

    node: fx.Node
    kind: str  # "input", "window", "elementwise", "cat", "pool_sum", "pool_max", "dense"
    axes: tuple[Axis, Axis] | None = None
    fn: Callable[..., Any] | None = None
    reach: tuple[Reach, Reach] | None = None
    pad_value: float = 0.0
    inputs: tuple[fx.Node, ...] = ()
    margin: int = 0  # how far a windowed operator's input crops reach outside the input map
    cost: float = 1.0  # work per output element of a windowed operator (conv: Cin/g × Cout × kernel area)


@dataclass(eq=False, repr=False)
class MaxTables:
    """Running maxima of a map [B,C,H,W] from which the maximum outside any box follows exactly:
    over rows above/below it (``rows_before``/``rows_from`` [B,C,H+1]) and, in the box's rows, over
    the columns left/right of it (``cols_before``/``cols_from`` [B,C,H,W+1]); -inf where empty."""

    rows_before: Tensor
    rows_from: Tensor
    cols_before: Tensor
    cols_from: Tensor

    @staticmethod
    def of(value: Tensor) -> MaxTables:
        def running(x: Tensor, dim: int) -> tuple[Tensor, Tensor]:
            shape = list(x.shape)
            shape[dim] = 1
            edge = torch.full(shape, -torch.inf, dtype=x.dtype, device=x.device)
            before = torch.cat([edge, x.cummax(dim).values], dim)
            after = torch.cat([x.flip(dim).cummax(dim).values.flip(dim), edge], dim)
            return before, after

        rows_before, rows_from = running(value.amax(3), 2)
        cols_before, cols_from = running(value, 3)
        return MaxTables(rows_before, rows_from, cols_before, cols_from)

    def outside(self, image: Tensor, y0: Tensor, height: int, x0: Tensor, width: int) -> Tensor:
        """[rows, C]: the maximum of image ``image[r]``'s map outside its box (y0, x0, height, width)."""
        above = self.rows_before[image, :, y0]
        below = self.rows_from[image, :, y0 + height]
        ys = y0[:, None] + torch.arange(height, device=y0.device)  # [rows, height]
        band_images, band_ys = image[:, None], ys
        left = self.cols_before[band_images, :, band_ys, x0[:, None]]  # [rows, height, C]
        right = self.cols_from[band_images, :, band_ys, (x0 + width)[:, None]]
        band = torch.maximum(left, right).amax(1)
        return torch.maximum(torch.maximum(above, below), band)


@dataclass(eq=False, repr=False)  # identity, and no repr of every cached activation
class Plan:
    """The analysed graph for one batch of images: its steps in graph order, the cached activations
    of the unoccluded images, and each node's changed intervals over a ``grid`` of regions."""

    modules: dict[str, nn.Module]  # the traced model's modules, by qualified name
    steps: list[Step]
    cache: dict[fx.Node, Any]  # every node's value on the unoccluded images
    output: fx.Node  # the logits
    batch: int
    grid: tuple[int, int]  # region positions per axis
    # Per global pool's input: its whole-map sums [B,C] in float64, taken once, updated per patch.
    pool_sums: dict[fx.Node, Tensor]
    # Per global max pool's input: the maxima of its map outside any box (:class:`MaxTables`).
    pool_maxima: dict[fx.Node, MaxTables] = field(default_factory=dict)
    # Padded channels-last copies of cached maps, by (node, pad value): shared with restricted plans.
    tables: dict[tuple[fx.Node, float], tuple[Tensor, int]] = field(default_factory=dict)
    _groups: list[tuple[np.ndarray, np.ndarray, Plan]] | None = field(default=None, init=False)

    def padded(self, node: fx.Node, pad: float, margin: int) -> tuple[Tensor, int]:
        """``node``'s cached map, channels-last, padded by ``margin`` with ``pad``: [(B·Hp·Wp), C]."""
        key = (node, pad)
        have = self.tables.get(key)
        if have is None or have[1] < margin:
            value = self.cache[node]
            padded = F.pad(value, (margin,) * 4, value=pad) if margin else value
            table = padded.permute(0, 2, 3, 1).reshape(-1, value.shape[1]).contiguous()
            have = self.tables[key] = (table, margin)
        return have

    def restricted(self, rows: np.ndarray, cols: np.ndarray) -> Plan:
        """This plan (same graph, same cached activations) for the sub-grid ``rows`` × ``cols`` of
        window positions: each layer's patch only as large as those windows' changed intervals."""
        steps = [replace(st, axes=(st.axes[0].subset(rows), st.axes[1].subset(cols))) if st.axes else st
                 for st in self.steps]
        return replace(self, steps=steps, grid=(int(rows.size), int(cols.size)))

    def groups(self) -> list[tuple[np.ndarray, np.ndarray, Plan]]:
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


class _Analysis:
    """Traces the model and runs the unoccluded images through the graph node by node, caching
    every value and deriving each node's :class:`Step`; :meth:`plan` is the result."""

    def __init__(self, model: nn.Module, images: Tensor, regions: Regions, threshold: float | None) -> None:
        self.threshold = threshold
        try:
            self.graph_module = tracing.symbolic_trace(model)
        except Exception as error:  # tracing fails on data-dependent control flow, among others
            raise Unsupported(f"torch.fx could not trace the model ({type(error).__name__}: {error})") from error
        self.modules = dict(self.graph_module.named_modules())
        self.batch = images.shape[0]
        self.height, self.width = images.shape[2], images.shape[3]
        self.grid = (int(regions[0][0].size), int(regions[1][0].size))
        self.cache: dict[fx.Node, Any] = {}
        self.kind: dict[fx.Node, str] = {}  # "static", "spatial" or "dense"
        self.steps: list[Step] = []
        self.output: fx.Node | None = None
        self._build(images, regions)

    def plan(self) -> Plan:
        """The analysis as a :class:`Plan`, with the pooled sums its executor updates per patch."""
        if self.output is None:
            raise Unsupported("the model has no output")
        pool_sums = {s.inputs[0]: self.cache[s.inputs[0]].sum((2, 3), dtype=torch.float64)
                     for s in self.steps if s.kind == "pool_sum"}
        pool_maxima = {s.inputs[0]: MaxTables.of(self.cache[s.inputs[0]]) for s in self.steps if s.kind == "pool_max"}
        return Plan(self.modules, self.steps, self.cache, self.output, self.batch, self.grid, pool_sums, pool_maxima)

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
                self.steps.append(Step(node, "input", axes=axes))  # type: ignore[arg-type]
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
            self.steps.append(Step(node, "dense", fn=fn, inputs=tuple(inputs)))
            return
        if len(spatial) != len(inputs):
            raise Unsupported(f"{node.format_node()} mixes spatial maps with pooled values")
        self.steps.append(self._spatial_step(node, fn, tuple(spatial)))
        self.kind[node] = "dense" if self.steps[-1].kind in ("pool_sum", "pool_max") else "spatial"
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

    def _spatial_step(self, node: fx.Node, fn: Callable[..., Any], spatial: tuple[fx.Node, ...]) -> Step:
        out = self.cache[node]
        module = self.modules.get(str(node.target)) if node.op == "call_module" else None
        if isinstance(module, nn.Conv2d):
            return self._conv_step(node, module, spatial[0])
        if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            return self._pool_step(node, module, spatial[0])
        if self._is_global_mean(node, module):
            self._check_map(spatial[0], self.cache[spatial[0]])
            return Step(node, "pool_sum", inputs=spatial)
        if self._is_global_max(node, module):
            self._check_map(spatial[0], self.cache[spatial[0]])
            return Step(node, "pool_max", inputs=spatial)
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

    def _conv_step(self, node: fx.Node, conv: nn.Conv2d, source: fx.Node) -> Step:
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str) and conv.padding != "valid":
            raise Unsupported(f"{node.target}: padding {conv.padding!r}/{conv.padding_mode} not supported")
        padding = (0, 0) if isinstance(conv.padding, str) else int_pair(conv.padding)
        reach = tuple(Reach(k, s, p, d) for k, s, p, d in
                      zip(int_pair(conv.kernel_size), int_pair(conv.stride), padding, int_pair(conv.dilation)))
        weight, bias, step_stride, dilation, groups = conv.weight, conv.bias, conv.stride, conv.dilation, conv.groups

        def run(patch: Tensor) -> Tensor:
            return F.conv2d(patch, weight, bias, step_stride, 0, dilation, groups)

        cost = conv.in_channels // conv.groups * conv.out_channels * reach[0].kernel * reach[1].kernel
        return self._windowed(node, source, reach, run, 0.0, cost)  # type: ignore[arg-type]

    def _pool_step(self, node: fx.Node, pool: nn.MaxPool2d | nn.AvgPool2d, source: fx.Node) -> Step:
        if pool.ceil_mode:
            raise Unsupported(f"{node.target}: ceil_mode pooling not supported")
        padding = int_pair(pool.padding)
        kernel = int_pair(pool.kernel_size)
        stride = int_pair(pool.stride if pool.stride is not None else pool.kernel_size)
        if isinstance(pool, nn.MaxPool2d):
            if pool.return_indices:
                raise Unsupported(f"{node.target}: return_indices not supported")
            dilation = int_pair(pool.dilation)

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
                  run: Callable[[Tensor], Tensor], pad_value: float, cost: float) -> Step:
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
        return Step(node, "window", axes=axes, fn=run, reach=reach, pad_value=pad_value, inputs=(source,),
                     margin=margin, cost=float(cost))

    def _merge_step(self, node: fx.Node, kind: str, fn: Callable[..., Any], spatial: tuple[fx.Node, ...],
                    out: Any) -> Step:
        shapes = {tuple(self.cache[n].shape[2:]) for n in spatial}
        if len(shapes) != 1 or not isinstance(out, Tensor) or tuple(out.shape[2:]) not in shapes:
            raise Unsupported(f"{node.format_node()} broadcasts maps of different sizes")
        per_input = [self._axes(n) for n in spatial]
        axes = tuple(
            Axis.of(np.min([a[d].lo for a in per_input], axis=0), np.max([a[d].hi for a in per_input], axis=0),
                    int(out.shape[2 + d]))
            for d in range(2)
        )
        return Step(node, kind, axes=axes, fn=fn, inputs=spatial)  # type: ignore[arg-type]

    def _axes(self, node: fx.Node) -> tuple[Axis, Axis]:
        for step in self.steps:
            if step.node is node and step.axes is not None:
                return step.axes
        raise Unsupported(f"{node.format_node()} has no spatial geometry")

    def _is_global_mean(self, node: fx.Node, module: nn.Module | None) -> bool:
        if isinstance(module, nn.AdaptiveAvgPool2d):
            return int_pair(module.output_size) == (1, 1)
        if node.op == "call_function" and node.target is F.adaptive_avg_pool2d:
            size = node.args[1] if len(node.args) > 1 else node.kwargs.get("output_size")
            return int_pair(size) == (1, 1)
        return _over_the_map(node, torch.mean, "mean")

    @staticmethod
    def _is_global_max(node: fx.Node, module: nn.Module | None) -> bool:
        """A max over the whole map: ``amax(dim=(2, 3))`` or an adaptive max pool to 1×1 (no indices)."""
        if isinstance(module, nn.AdaptiveMaxPool2d):
            return int_pair(module.output_size) == (1, 1) and not module.return_indices
        if node.op == "call_function" and node.target is F.adaptive_max_pool2d:
            size = node.args[1] if len(node.args) > 1 else node.kwargs.get("output_size")
            indices = node.args[2] if len(node.args) > 2 else node.kwargs.get("return_indices", False)
            return int_pair(size) == (1, 1) and not indices
        return _over_the_map(node, torch.amax, "amax")

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


def _over_the_map(node: fx.Node, function: Any, method: str) -> bool:
    """``function(x, dim=(2, 3))`` or ``x.method(dim=(2, 3))``: a reduction over both spatial axes."""
    called = (node.op == "call_function" and node.target is function) or \
             (node.op == "call_method" and node.target == method)
    if not called:
        return False
    dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
    return isinstance(dims, (tuple, list)) and sorted(int(d) % 4 for d in dims) == [2, 3]


def _split_positions(steps: list[Step], axis: int) -> list[np.ndarray]:
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


def build_plan(model: Model, images: Tensor, window: tuple[int, int], stride: tuple[int, int],
               threshold: float | None = None) -> Plan | None:
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


def build_region_plan(model: Model, images: Tensor, regions: Regions, threshold: float | None = None) -> Plan | None:
    """The traced, cached plan for ``images`` and any separable rectangles (e.g. an uneven grid).

    ``threshold`` (Krypton's projective-field threshold τ, in (0, 1]): every windowed layer
    (convolution, pooling) recomputes at most ⌈τ × its map extent⌉ rows and columns per region, the
    centre of the changed interval; the rest of the changed values are approximated by the cached
    unoccluded ones. ``None`` (default) is exact; ``1.0`` is exact as well (nothing is capped)."""
    if threshold is not None:
        check_finite("threshold", threshold, low=0, high=1, closed="right")
    regions = checked_regions(regions, (images.shape[2], images.shape[3]))
    if not isinstance(model, nn.Module) or isinstance(model, torch.jit.ScriptModule):
        log.info("incremental occlusion: %s is not a traceable nn.Module; using full inference",
                 type(model).__name__)
        return None
    try:
        with torch.no_grad():
            plan = _Analysis(model, images, regions, threshold).plan()
    except Unsupported as why:
        log.info("incremental occlusion unavailable (%s); using full inference", why)
        return None
    return plan

