"""Target points: where the plan must see, at which pixel density, and in which community.

With roads, targets are sampled every ``spacing`` metres along the walkable ways. Without roads,
the must-watch area is the open ground around each community's buildings; a community's boundary
is derived from its buildings when none is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from vigil.core.errors import InputError
from vigil.coverage.geo import Buildings, Feature
from vigil.coverage.visibility import Targets

__all__ = ["Community", "derive_communities", "make_targets", "study_area"]

AREA_MARGIN_M = 30.0
HULL_MARGIN_M = 10.0
CLUSTER_GAP_M = 25.0
MAX_TARGETS = 400_000


@dataclass(frozen=True)
class Community:
    """A named site boundary (community, campus...) in local metres."""

    name: str
    polygon: shapely.Geometry


def study_area(b: Buildings, boundaries: list[Community] | None = None) -> shapely.Geometry:
    """The region planned: the given boundaries, else the buildings' envelope plus a margin."""
    if boundaries:
        return shapely.union_all([c.polygon for c in boundaries])
    return shapely.envelope(shapely.union_all(b.polygons)).buffer(AREA_MARGIN_M, join_style="mitre")


def derive_communities(b: Buildings, default_name: str) -> list[Community]:
    """Boundaries derived from the buildings: per ``community`` label, else per cluster of buildings."""
    labels = sorted({c for c in b.communities if c})
    if labels:
        out = []
        for name in labels:
            polys = [p for p, c in zip(b.polygons, b.communities, strict=True) if c == name]
            out.append(Community(name, shapely.convex_hull(shapely.union_all(polys)).buffer(HULL_MARGIN_M)))
        return out
    merged = shapely.union_all([shapely.buffer(p, CLUSTER_GAP_M / 2) for p in b.polygons])
    parts = list(shapely.get_parts(merged))
    if len(parts) == 1:
        return [Community(default_name, shapely.convex_hull(parts[0]))]
    parts.sort(key=lambda g: -g.area)
    return [Community(f"{default_name} #{i + 1}", shapely.convex_hull(g)) for i, g in enumerate(parts)]


def _along(lines: list[shapely.Geometry], spacing: float) -> np.ndarray:
    pts = []
    for line in lines:
        n = max(int(line.length // spacing), 0)
        d = (np.arange(n + 1) * spacing) + (line.length - n * spacing) / 2
        pts.append(shapely.get_coordinates(shapely.line_interpolate_point(line, d)))
    return np.vstack(pts) if pts else np.zeros((0, 2))


def _grid(poly: shapely.Geometry, spacing: float) -> np.ndarray:
    xmin, ymin, xmax, ymax = poly.bounds
    xs = np.arange(xmin + spacing / 2, xmax, spacing)
    ys = np.arange(ymin + spacing / 2, ymax, spacing)
    if len(xs) * len(ys) > MAX_TARGETS:
        raise InputError(f"the area needs {len(xs) * len(ys)} targets at {spacing} m; use a larger --spacing")
    gx, gy = np.meshgrid(xs, ys)
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    shapely.prepare(poly)
    return xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]


def make_targets(b: Buildings, communities: list[Community], *, roads: list[shapely.Geometry],
                 must_watch: list[Feature], spacing: float, ppm: float, must_ppm: float,
                 area: shapely.Geometry) -> Targets:
    """Sample target points and give each its required PPM and community."""
    if spacing <= 0:
        raise InputError("--spacing must be positive")
    blocked = shapely.union_all([shapely.buffer(p, 0.5) for p in b.polygons])
    shapely.prepare(blocked)
    if roads:
        clipped = [g for g in shapely.get_parts(shapely.intersection(np.array(roads, dtype=object), area))
                   if not g.is_empty]
        lines = [q for g in clipped for q in shapely.get_parts(g) if q.geom_type == "LineString"]
        xy, kind = _along(lines, spacing), "way"
    else:
        open_ground = shapely.union_all([c.polygon for c in communities]).difference(blocked)
        xy, kind = _grid(open_ground, spacing), "ground"
    if len(xy):
        xy = xy[~shapely.contains_xy(blocked, xy[:, 0], xy[:, 1])]
        xy = np.unique(np.round(xy, 1), axis=0)
    mw = np.array([[f.geom.x, f.geom.y] for f in must_watch if not blocked.contains(f.geom)]).reshape(-1, 2)
    mw_ppm = np.array([_must_ppm(f, must_ppm) for f in must_watch if not blocked.contains(f.geom)])
    all_xy = np.vstack([xy, mw])
    if len(all_xy) == 0:
        raise InputError("no target point lies in open ground: the area is empty or fully built over")
    ppm_arr = np.concatenate([np.full(len(xy), ppm), mw_ppm]) if len(mw) else np.full(len(xy), ppm)
    kinds = np.array([kind] * len(xy) + ["must"] * len(mw), dtype=object)
    return Targets(all_xy, ppm_arr, _community_of(all_xy, communities), kinds)


def _must_ppm(f: Feature, default: float) -> float:
    from vigil.coverage.optics import level_ppm

    lvl = f.props.get("level") or f.props.get("required_level")
    prof = f.props.get("profile") or "dori2015"
    return level_ppm(str(lvl), str(prof)) if lvl else default


def _community_of(xy: np.ndarray, communities: list[Community]) -> np.ndarray:
    out = np.full(len(xy), -1, dtype=np.int64)
    for i, c in enumerate(communities):
        inside = shapely.contains_xy(c.polygon, xy[:, 0], xy[:, 1]) & (out < 0)
        out[inside] = i
    return out
