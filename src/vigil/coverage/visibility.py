"""Visibility: which targets each camera pose sees at the required pixel density.

Occlusion is exact for point targets: a target is hidden when the sight segment from the camera
crosses a building wall that stands above the sight line there (footprints are flat-roofed prisms,
so a camera on a roof sees over lower buildings: 2.5-D). A sight line that goes through a prism must leave
it through a wall below the roof (the target stands outside every footprint and the line only descends),
so testing the walls is exact for a camera at any height, on or inside a roof included: the roof's own
edge hides the ground close under it. :mod:`vigil.coverage.sightline` re-checks this independently on a
height raster. Each site is tested only against the buildings
within its reach, vectorised over targets x walls. The exact 2-D visibility polygon (for drawing and
for the analytic tests) is the reach disc minus the shadows of the walls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from vigil.coverage.optics import MIN_DWELL_FRACTION, TARGET_HEIGHT_M, auto_tilt, dead_zone_m, far_limit_m

__all__ = ["Obstacles", "Poses", "Targets", "coverage_matrix", "fov_wedge", "visibility_polygon", "visible_mask"]

_EPS = 1e-9


@dataclass(frozen=True)
class Obstacles:
    """Building walls as segment arrays, with a spatial index over the footprints."""

    polygons: np.ndarray
    heights: np.ndarray
    seg: np.ndarray  # (E, 4): x1, y1, x2, y2
    seg_h: np.ndarray  # (E,) wall height
    first: np.ndarray  # (B + 1,) edges of building b are seg[first[b]:first[b + 1]]
    tree: shapely.STRtree

    @classmethod
    def build(cls, polygons: np.ndarray, heights: np.ndarray) -> Obstacles:
        """Index ``polygons`` (local metres) of ``heights`` metres."""
        segs, first = [], [0]
        for poly in polygons:
            rings = [poly.exterior, *poly.interiors] if poly.geom_type == "Polygon" else \
                [r for p in shapely.get_parts(poly) for r in (p.exterior, *p.interiors)]
            parts = []
            for ring in rings:
                c = np.asarray(ring.coords)
                parts.append(np.hstack([c[:-1], c[1:]]))
            s = np.vstack(parts) if parts else np.zeros((0, 4))
            segs.append(s)
            first.append(first[-1] + len(s))
        seg = np.vstack(segs) if segs else np.zeros((0, 4))
        counts = np.diff(first)
        return cls(np.asarray(polygons, dtype=object), np.asarray(heights, float), seg,
                   np.repeat(np.asarray(heights, float), counts), np.asarray(first), shapely.STRtree(polygons))

    def edges_near(self, x: float, y: float, reach: float) -> np.ndarray:
        """Indices of the walls of buildings within ``reach`` of (x, y)."""
        idx = self.tree.query(shapely.box(x - reach, y - reach, x + reach, y + reach))
        if len(idx) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([np.arange(self.first[b], self.first[b + 1]) for b in idx])


def visible_mask(obst: Obstacles, x: float, y: float, cam_h: float, tx: np.ndarray, ty: np.ndarray,
                 target_h: float = TARGET_HEIGHT_M, edges: np.ndarray | None = None) -> np.ndarray:
    """True for each target (tx, ty) whose line of sight from (x, y, cam_h) no wall blocks."""
    n = len(tx)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if edges is None:
        reach = float(np.max(np.hypot(tx - x, ty - y))) + 1.0
        edges = obst.edges_near(x, y, reach)
    if len(edges) == 0:
        return np.ones(n, dtype=bool)
    s = obst.seg[edges]
    ax, ay, ex, ey = s[:, 0], s[:, 1], s[:, 2] - s[:, 0], s[:, 3] - s[:, 1]
    dx, dy = (tx - x)[:, None], (ty - y)[:, None]
    denom = dx * ey[None, :] - dy * ex[None, :]
    wx, wy = (ax - x)[None, :], (ay - y)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (wx * ey[None, :] - wy * ex[None, :]) / denom  # along the sight line (0 camera, 1 target)
        u = (wx * dy - wy * dx) / denom  # along the wall
        line_h = cam_h - (cam_h - target_h) * t
    hit = (np.abs(denom) > _EPS) & (t > _EPS) & (t < 1 - _EPS) & (u >= 0) & (u <= 1)
    hit &= obst.seg_h[edges][None, :] >= line_h
    return ~hit.any(axis=1)


def visibility_polygon(x: float, y: float, polygons: list[shapely.Geometry] | np.ndarray,
                       reach: float) -> shapely.Geometry:
    """The exact 2-D region visible from (x, y) within ``reach``, walls of any height blocking."""
    disc = shapely.Point(x, y).buffer(reach, quad_segs=64)
    near = [p for p in polygons if p.intersects(disc)]
    quads = []
    far = reach * 4 + 10
    for poly in near:
        for part in shapely.get_parts(poly):
            for ring in (part.exterior, *part.interiors):
                c = np.asarray(ring.coords)
                for (ax, ay), (bx, by) in zip(c[:-1], c[1:], strict=True):
                    quads.append(_shadow(x, y, ax, ay, bx, by, far))
    blocked = shapely.union_all([q for q in quads if q is not None] + near)
    vis = disc.difference(blocked)
    # keep only the part connected to the viewpoint (shadows can leave slivers elsewhere)
    parts = [p for p in shapely.get_parts(vis) if p.distance(shapely.Point(x, y)) < 1e-6]
    return parts[0] if parts else shapely.Polygon()


def _shadow(x: float, y: float, ax: float, ay: float, bx: float, by: float, far: float) -> shapely.Polygon | None:
    da, db = math.hypot(ax - x, ay - y), math.hypot(bx - x, by - y)
    if da < _EPS or db < _EPS:
        return None
    if abs((ax - x) * (by - y) - (ay - y) * (bx - x)) < _EPS:
        return None  # the wall is seen edge-on
    pa = (x + (ax - x) * far / da, y + (ay - y) * far / da)
    pb = (x + (bx - x) * far / db, y + (by - y) * far / db)
    q = shapely.Polygon([(ax, ay), (bx, by), pb, pa])
    return q if q.is_valid else shapely.make_valid(q)


def fov_wedge(x: float, y: float, heading_deg: float, hfov_deg: float, r_max: float,
              r_min: float = 0.0) -> shapely.Geometry:
    """The ground sector of a camera (heading 0 = north, clockwise) between ``r_min`` and ``r_max``."""
    if hfov_deg >= 359.9:
        ring = shapely.Point(x, y).buffer(r_max, quad_segs=32)
        return ring.difference(shapely.Point(x, y).buffer(r_min)) if r_min > 0 else ring
    a = np.radians(np.linspace(heading_deg - hfov_deg / 2, heading_deg + hfov_deg / 2, 33))
    outer = np.column_stack([x + r_max * np.sin(a), y + r_max * np.cos(a)])
    inner = np.column_stack([x + r_min * np.sin(a[::-1]), y + r_min * np.cos(a[::-1])]) if r_min > 0 \
        else np.array([[x, y]])
    return shapely.Polygon(np.vstack([outer, inner]))


@dataclass(frozen=True)
class Targets:
    """Points that must be seen: position, required PPM, community index (-1: none), kind."""

    xy: np.ndarray  # (N, 2)
    ppm: np.ndarray  # (N,)
    community: np.ndarray  # (N,) int
    kind: np.ndarray  # (N,) str: "way", "ground", "must"

    def __len__(self) -> int:
        return len(self.xy)


@dataclass(frozen=True)
class Poses:
    """Camera poses: site, height, heading, tilt, model index, mount kind, cost; ``fixed`` for existing ones."""

    xy: np.ndarray  # (M, 2)
    height: np.ndarray
    heading: np.ndarray
    tilt: np.ndarray  # NaN: choose automatically for the model's range
    model: np.ndarray  # int index into the catalog
    mount: np.ndarray  # str
    cost: np.ndarray
    fixed: np.ndarray  # bool
    ref: np.ndarray  # str: existing camera id, or "" for a candidate

    def __len__(self) -> int:
        return len(self.xy)

    def take(self, idx: np.ndarray) -> Poses:
        """The poses at ``idx``."""
        return Poses(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


def coverage_matrix(poses: Poses, targets: Targets, obst: Obstacles, specs: list, base_ppm: float,
                    *, ir_limit: bool = False,
                    min_dwell: float = MIN_DWELL_FRACTION) -> tuple[sparse.csc_matrix, np.ndarray, np.ndarray]:
    """Boolean (targets x poses) matrix of "pose sees target at its required PPM".

    Returns the matrix, the ground range of each pose at ``base_ppm`` and the tilt used.
    Poses that share a site share one occlusion test. A PTZ tour (``spec.presets`` > 1, ``heading`` the
    tour's centre) sees a target only if the presets that hold it in view add up to ``min_dwell`` of its period.
    """
    tree = cKDTree(targets.xy)
    rng = np.zeros(len(poses))
    tilt = np.array(poses.tilt, float)
    rows, cols = [], []
    min_ppm = float(targets.ppm.min()) if len(targets) else base_ppm
    key = np.round(np.column_stack([poses.xy, poses.height]), 3)
    _, site_of, = np.unique(key, axis=0, return_inverse=True)
    order = np.argsort(site_of, kind="stable")
    bounds = np.flatnonzero(np.diff(site_of[order])) + 1
    for group in np.split(order, bounds):
        g0 = group[0]
        x, y = poses.xy[g0]
        h = float(poses.height[g0])
        reach = max(_ground(specs[m].f_px / min_ppm, h) for m in poses.model[group])
        if reach <= 0:
            continue
        near = np.asarray(tree.query_ball_point((x, y), reach), dtype=np.int64)
        if len(near) == 0:
            continue
        tx, ty = targets.xy[near, 0], targets.xy[near, 1]
        vis = visible_mask(obst, x, y, h, tx, ty, edges=obst.edges_near(x, y, reach + 1))
        near, tx, ty = near[vis], tx[vis], ty[vis]
        r = np.hypot(tx - x, ty - y)
        slant = np.hypot(r, h - TARGET_HEIGHT_M)
        bearing = np.degrees(np.arctan2(tx - x, ty - y))
        for j in group:
            spec = specs[poses.model[j]]
            rng[j] = _ground(spec.f_px / base_ppm, h)
            if ir_limit and spec.ir_range_m > 0:
                rng[j] = min(rng[j], spec.ir_range_m)
            if np.isnan(tilt[j]):
                tilt[j] = auto_tilt(h, rng[j])
            ok = slant * targets.ppm[near] <= spec.f_px
            ok &= r >= dead_zone_m(h, tilt[j], spec.vfov_deg)
            ok &= r <= far_limit_m(h, tilt[j], spec.vfov_deg)
            if ir_limit and spec.ir_range_m > 0:
                ok &= r <= spec.ir_range_m
            if spec.presets > 1:
                ok &= _in_tour(spec, float(poses.heading[j]), bearing) * spec.dwell_fraction >= min_dwell - 1e-12
            elif spec.hfov_deg < 359.9:
                diff = np.abs((bearing - poses.heading[j] + 180.0) % 360.0 - 180.0)
                ok &= diff <= spec.hfov_deg / 2
            hit = near[ok]
            rows.append(hit)
            cols.append(np.full(len(hit), j, dtype=np.int64))
    r_all = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c_all = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    a = sparse.csc_matrix((np.ones(len(r_all), dtype=bool), (r_all, c_all)), shape=(len(targets), len(poses)))
    return a, rng, tilt


def _in_tour(spec: object, heading: float, bearing: np.ndarray) -> np.ndarray:
    """How many presets of a PTZ tour hold each bearing in their field of view."""
    n = np.zeros(len(bearing), dtype=np.int64)
    for hd in spec.preset_headings(heading):  # type: ignore[attr-defined]
        n += np.abs((bearing - hd + 180.0) % 360.0 - 180.0) <= spec.hfov_deg / 2  # type: ignore[attr-defined]
    return n


def _ground(slant: float, h: float) -> float:
    dh = h - TARGET_HEIGHT_M
    return math.sqrt(slant * slant - dh * dh) if slant > abs(dh) else 0.0
