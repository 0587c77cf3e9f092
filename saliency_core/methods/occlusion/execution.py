"""The incremental-inference executor: one pass of a plan for a chunk of windows.

For a chunk of windows at once, each layer recomputes only the region its inputs changed. Each
layer's input patch (changed values plus a halo of cached ones) is assembled for all windows of the
chunk, the layer runs once on that batch of patches, and the result becomes the layer's patch; the
global average pool updates the cached pooled sum from the patch only, after which the (tiny) head
runs densely.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, fx

from saliency_core import kernels
from saliency_core.methods.occlusion.geometry import Axis
from saliency_core.methods.occlusion.plan import Plan, Step


def chunk_outputs(plan: Plan, images: Tensor, base: Tensor, windows: np.ndarray) -> Tensor:
    """The model's output [count·B, K] for ``windows`` (indices in ``plan``'s grid), rows i·B + b."""
    chunk = _Chunk(plan, windows, images.device)
    for step, done in zip(plan.steps, _last_reads(plan.steps, plan.output)):
        if step.kind == "input":
            chunk.run_input(step, images, base)
        else:
            chunk.run(step)
        for node in done:  # a patch no later step reads: free it now, not at the chunk's end
            chunk.values.pop(node, None)
    out: Tensor = chunk.values[plan.output]
    return out


def _last_reads(steps: list[Step], output: fx.Node) -> list[list[fx.Node]]:
    """Per step, the nodes whose patches no later step reads (the output is kept)."""
    last: dict[fx.Node, int] = {}
    for i, step in enumerate(steps):
        last[step.node] = i
        for node in step.node.all_input_nodes:
            last[node] = i
    done: list[list[fx.Node]] = [[] for _ in steps]
    for node, i in last.items():
        if node is not output:
            done[i].append(node)
    return done


def bytes_per_window(plan: Plan) -> int:
    """Memory one window's patches take in a pass (all images, all nodes' patches at once)."""
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


class _Chunk:
    """Evaluation of the plan for some windows (indices in its grid) of every image (rows i·B + b)."""

    def __init__(self, plan: Plan, windows: np.ndarray, device: torch.device) -> None:
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
        in one pass of the compiled gather kernel; the result is channels-last, which the
        convolutions take without a copy. ``margin``: how far (y0, x0, height, width) may reach
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
        # The plan's geometry keeps every crop inside the padded map, and every index vector here
        # is a fresh int64 tensor on the table's device: the unchecked entry point fits.
        return kernels.gather_patches_unchecked(table, padded, self.image, y0 + margin, x0 + margin,
                                                (height, width), patch, offset)

    def aligned(self, node: fx.Node, axes: tuple[Axis, Axis]) -> Tensor:
        """``node``'s occluded map over the patch boxes of ``axes`` (its own patch when they agree)."""
        y0, x0 = self.starts(axes)
        own = self.patch_start.get(node)
        patch = self.values.get(node)
        if own is not None and patch is not None and patch.shape[2] == axes[0].size \
                and patch.shape[3] == axes[1].size and torch.equal(own[0], y0) and torch.equal(own[1], x0):
            return patch
        return self.gather(node, y0, axes[0].size, x0, axes[1].size, 0.0)

    def run_input(self, step: Step, images: Tensor, baseline: Tensor) -> None:
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

    def run(self, step: Step) -> None:
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
        elif step.kind == "pool_max":
            self.values[node] = self._max_pooled(step)
        else:  # dense: the head after the global pool runs on all rows at once
            assert step.fn is not None
            lookup = lambda n: self.values.get(n, self.plan.cache[n])  # noqa: E731
            self.values[node] = step.fn(*fx.node.map_arg(node.args, lookup), **fx.node.map_arg(node.kwargs, lookup))

    def _pooled(self, step: Step) -> Tensor:
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

    def _max_pooled(self, step: Step) -> Tensor:
        """Global max: the larger of the cached map's maximum outside the patch box and the patch's."""
        source = step.inputs[0]
        patch = self.values[source]
        y0, x0 = self.patch_start[source]
        outside = self.plan.pool_maxima[source].outside(self.image, y0, patch.shape[2], x0, patch.shape[3])
        peak = torch.maximum(outside, patch.amax((2, 3)))
        return peak.reshape(self.rows, *self.plan.cache[step.node].shape[1:])
