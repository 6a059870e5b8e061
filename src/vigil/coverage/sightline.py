"""An independent 2.5-D line-of-sight check on a raster of roof heights.

It shares no code with :mod:`vigil.coverage.visibility` (which intersects sight lines with building
walls exactly): the footprints are burnt into a grid of roof heights (a cell takes the height of the
tallest footprint that holds its centre), and each camera-to-target sight line is walked in steps of
half a cell; the line is blocked when the grid under a step stands at or above the line's height there.
A coarse pass first clears the lines that pass well above every roof: on a grid of ``COARSE`` x ``COARSE``
cells holding the tallest roof of the cell and its eight neighbours, a line sampled every coarse cell is
clear when that roof stays below where the line will be one step further on (the line only descends).
The last and first ``END_M`` metres are not tested: targets stand at least half a metre off every wall,
and a wall-mounted camera hangs half a metre in front of its own facade, closer than a cell can resolve.
The pixel density is recomputed here too, from the resolution and field of view.

:func:`verify_claims` re-checks every (target, pose) pair a plan claims for the poses asked about and
returns the share it confirms; the planner's report quotes it for the eagle-eye high points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.ndimage import maximum_filter

__all__ = ["COARSE", "END_M", "HeightMap", "SightCheck", "clear_sight", "verify_claims"]

END_M = 0.4
COARSE = 16
_TARGET_H = 1.5
_CHUNK = 2_000_000  # samples per vectorised batch


@dataclass(frozen=True)
class HeightMap:
    """Roof heights on a square grid: cell (i, j) has its centre at (x0 + (j + .5) cell, y0 + (i + .5) cell)."""

    x0: float
    y0: float
    cell: float
    z: np.ndarray  # (rows, cols) metres; 0 where there is no building
    zc: np.ndarray  # (rows / COARSE, cols / COARSE): the tallest roof of each coarse cell and its neighbours

    @classmethod
    def rasterise(cls, polygons: np.ndarray | list, heights: np.ndarray, *, cell: float = 0.5,
                  margin: float = 5.0, bounds: tuple[float, float, float, float] | None = None) -> HeightMap:
        """Burn ``polygons`` (local metres) of ``heights`` into a grid around them, or over ``bounds``.

        ``bounds`` (xmin, ymin, xmax, ymax) must hold every camera and target the grid will be asked about.
        """
        polys = list(polygons)
        if bounds is None:
            bounds = tuple(shapely.total_bounds(np.asarray(polys, dtype=object))) if polys else (0.0, 0.0, 1.0, 1.0)
        x0, y0, x1, y1 = bounds
        x0, y0 = x0 - margin, y0 - margin
        cols, rows = int(math.ceil((x1 + margin - x0) / cell)), int(math.ceil((y1 + margin - y0) / cell))
        z = np.zeros((rows, cols), dtype=np.float32)
        for poly, h in zip(polys, np.asarray(heights, float), strict=True):
            bx0, by0, bx1, by1 = poly.bounds
            j0, j1 = max(int((bx0 - x0) / cell), 0), min(int((bx1 - x0) / cell) + 1, cols)
            i0, i1 = max(int((by0 - y0) / cell), 0), min(int((by1 - y0) / cell) + 1, rows)
            if j1 <= j0 or i1 <= i0:
                continue
            cx = x0 + (np.arange(j0, j1) + 0.5) * cell
            cy = y0 + (np.arange(i0, i1) + 0.5) * cell
            gx, gy = np.meshgrid(cx, cy)
            inside = shapely.contains_xy(poly, gx, gy)
            block = z[i0:i1, j0:j1]
            block[inside] = np.maximum(block[inside], h)
        pad = np.zeros((-(-rows // COARSE) * COARSE, -(-cols // COARSE) * COARSE), dtype=np.float32)
        pad[:rows, :cols] = z
        coarse = pad.reshape(pad.shape[0] // COARSE, COARSE, pad.shape[1] // COARSE, COARSE).max(axis=(1, 3))
        return cls(float(x0), float(y0), float(cell), z, maximum_filter(coarse, size=3, mode="constant"))

    def at(self, x: np.ndarray, y: np.ndarray, *, coarse: bool = False) -> np.ndarray:
        """The roof height under each point (0 off the grid); ``coarse``: the coarse grid's."""
        grid, size = (self.zc, self.cell * COARSE) if coarse else (self.z, self.cell)
        j = np.floor((x - self.x0) / size).astype(np.int64)
        i = np.floor((y - self.y0) / size).astype(np.int64)
        ok = (i >= 0) & (i < grid.shape[0]) & (j >= 0) & (j < grid.shape[1])
        out = np.zeros(len(x), dtype=np.float32)
        out[ok] = grid[i[ok], j[ok]]
        return out


def clear_sight(hm: HeightMap, cx: float, cy: float, ch: float, tx: np.ndarray, ty: np.ndarray,
                target_h: float = _TARGET_H) -> np.ndarray:
    """True for each target whose sight line from (cx, cy, ch) passes above every roof on the grid."""
    tx, ty = np.asarray(tx, float), np.asarray(ty, float)
    out = np.ones(len(tx), dtype=bool)
    maybe = np.flatnonzero(~_coarse_clear(hm, cx, cy, ch, tx, ty, target_h))
    if len(maybe):
        out[maybe] = _fine(hm, cx, cy, ch, tx[maybe], ty[maybe], target_h)
    return out


def _coarse_clear(hm: HeightMap, cx: float, cy: float, ch: float, tx: np.ndarray, ty: np.ndarray,
                  target_h: float) -> np.ndarray:
    step = hm.cell * COARSE
    dist = np.hypot(tx - cx, ty - cy)
    n = int(np.ceil(dist.max() / step)) + 1 if len(dist) else 1
    s = np.arange(n + 1)[None, :] * step
    d = np.where(dist > 0, dist, 1.0)[:, None]
    f = np.minimum(s / d, 1.0)
    line_next = ch + (target_h - ch) * np.minimum((s + step) / d, 1.0)
    roof = hm.at((cx + (tx[:, None] - cx) * f).ravel(), (cy + (ty[:, None] - cy) * f).ravel(),
                 coarse=True).reshape(f.shape)
    return ~np.any(roof >= line_next, axis=1)


def _fine(hm: HeightMap, cx: float, cy: float, ch: float, tx: np.ndarray, ty: np.ndarray,
          target_h: float) -> np.ndarray:
    out = np.ones(len(tx), dtype=bool)
    step = hm.cell / 2
    dist = np.hypot(tx - cx, ty - cy)
    # batches of targets of similar distance, at most _CHUNK samples each, keep memory flat
    n_steps = np.maximum(np.ceil(dist / step).astype(np.int64), 1)
    order = np.argsort(n_steps)
    start = 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and n_steps[order[stop]] * (stop - start + 1) <= _CHUNK:
            stop += 1
        idx = order[start:stop]
        out[idx] = _batch(hm, cx, cy, ch, tx[idx], ty[idx], dist[idx], int(n_steps[idx].max()), target_h)
        start = stop
    return out


def _batch(hm: HeightMap, cx: float, cy: float, ch: float, tx: np.ndarray, ty: np.ndarray, dist: np.ndarray,
           steps: int, target_h: float) -> np.ndarray:
    s = np.arange(1, steps, dtype=np.float32) * np.float32(hm.cell / 2)  # metres from the camera, on the ground
    d = dist.astype(np.float32)[:, None]
    f = s[None, :] / np.maximum(d, np.float32(1e-6))  # share of the way to the target
    rows, cols = hm.z.shape
    j = ((cx - hm.x0) / hm.cell + ((tx - cx) / hm.cell).astype(np.float32)[:, None] * f).astype(np.int32)
    i = ((cy - hm.y0) / hm.cell + ((ty - cy) / hm.cell).astype(np.float32)[:, None] * f).astype(np.int32)
    roof = hm.z[np.clip(i, 0, rows - 1), np.clip(j, 0, cols - 1)]  # the grid's rim is open ground
    line = np.float32(ch) + np.float32(target_h - ch) * f
    use = (s[None, :] > END_M) & (s[None, :] < d - END_M)
    return ~np.any(use & (roof >= line), axis=1)


def _focal(h_res: float, hfov_deg: float) -> float:
    if hfov_deg >= 180:
        return h_res / math.radians(hfov_deg)
    return h_res / (2 * math.tan(math.radians(hfov_deg) / 2))


@dataclass(frozen=True)
class SightCheck:
    """The outcome of re-checking claimed pairs: per pose and in total."""

    pairs: int
    confirmed: int
    per_pose: dict[int, tuple[int, int]]  # pose index -> (claimed, confirmed)
    refuted: list[tuple[int, int]]  # (target, pose) pairs the check does not confirm

    @property
    def agreement(self) -> float:
        """Confirmed share of the claimed pairs (1 when nothing was claimed)."""
        return self.confirmed / self.pairs if self.pairs else 1.0


def verify_claims(matrix: sparse.spmatrix, pose_idx: np.ndarray | list[int], *, cam_xy: np.ndarray,
                  cam_h: np.ndarray, specs: list, models: np.ndarray, target_xy: np.ndarray,
                  target_ppm: np.ndarray, hm: HeightMap) -> SightCheck:
    """Re-check every target that ``matrix`` (targets x poses) claims for the poses ``pose_idx``.

    A pair holds when the sight line is clear on ``hm`` and the pixel density at the slant distance
    reaches the target's required PPM.
    """
    a = sparse.csc_matrix(matrix)
    per: dict[int, tuple[int, int]] = {}
    refuted: list[tuple[int, int]] = []
    total = good = 0
    for j in (int(j) for j in pose_idx):
        rows = a.indices[a.indptr[j]:a.indptr[j + 1]]
        if len(rows) == 0:
            per[j] = (0, 0)
            continue
        x, y, h = float(cam_xy[j, 0]), float(cam_xy[j, 1]), float(cam_h[j])
        tx, ty = target_xy[rows, 0], target_xy[rows, 1]
        spec = specs[int(models[j])]
        slant = np.hypot(np.hypot(tx - x, ty - y), h - _TARGET_H)
        ok = clear_sight(hm, x, y, h, tx, ty) & (_focal(spec.h_res_px, spec.hfov_deg) / slant >= target_ppm[rows] * (1 - 1e-9))
        per[j] = (len(rows), int(ok.sum()))
        refuted += [(int(t), j) for t in rows[~ok]]
        total += len(rows)
        good += int(ok.sum())
    return SightCheck(total, good, per, refuted)
