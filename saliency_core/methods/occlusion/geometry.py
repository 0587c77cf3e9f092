"""Occlusion geometry: the occluded rectangles, and how far their change reaches through a layer.

Geometry is separable: a window's changed rows depend only on its row position and its changed
columns only on its column position. So the occluded regions are given per spatial axis, as the
[lo, hi) interval of each position (region (iy, ix) is rows [lo_y[iy], hi_y[iy]) × columns
[lo_x[ix], hi_x[ix])), and every node of a traced graph keeps one :class:`Axis` per spatial
dimension holding its changed interval for each position; :class:`Reach` carries an interval
through a windowed layer (convolution, pooling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from saliency_core import kernels

# The occluded regions: per spatial axis, the [lo, hi) interval of each region position.
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


def checked_regions(regions: Regions, size: tuple[int, int]) -> Regions:
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
