"""Town outlines for the demo city, so its map shows where each town lies.

The shipped map data (``data/``, ``vigil/demo/data``) holds building footprints and roads, no administrative
boundaries, so an outline is drawn from the registry: the convex hull of the town's sites (its villages' sites
included), widened by :data:`BUFFER_M` so that the ground around the outermost sites is inside (simplified to
:data:`SIMPLIFY_M`), and cut where it would reach into a neighbouring town: each town keeps the ground nearer to
one of its own sites than to another town's (the Voronoi cells of all the sites' points), so every site lies in
its own town's outline and no two outlines overlap; where towns interleave, an outline is a MultiPolygon. Each
is checked by the site rule (:func:`vigil.registry.geometry.validate_polygon`). These are demo outlines, not real
boundaries.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

from vigil.core.models import Site
from vigil.registry.geometry import validate_polygon

__all__ = ["BUFFER_M", "SIMPLIFY_M", "town_outlines"]

#: metres added around the hull of a town's sites
BUFFER_M = 500.0
#: the simplification tolerance of an outline, in metres
SIMPLIFY_M = 20.0
_M_PER_DEG_LAT = 110_540.0
_M_PER_DEG_LON = 111_320.0  # at the equator; times cos(latitude)


@dataclass(frozen=True)
class _Frame:
    """A flat metric frame around a point: lon/lat degrees to metres east/north, and back."""

    origin: np.ndarray
    scale: np.ndarray

    @classmethod
    def at(cls, lon0: float, lat0: float) -> _Frame:
        return cls(np.array([lon0, lat0]), np.array([_M_PER_DEG_LON * math.cos(math.radians(lat0)), _M_PER_DEG_LAT]))

    def to_m(self, geom: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(geom, lambda xy: (xy - self.origin) * self.scale)

    def to_deg(self, geom: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(geom, lambda xy: xy / self.scale + self.origin)


def _ground(frame: _Frame, points: Mapping[str, list[shapely.Geometry]]) -> dict[str, shapely.Geometry]:
    """Each town's ground (metres): the union of the Voronoi cells of its sites' points.

    Every site then lies in its own town, and no two towns overlap.
    """
    codes = [code for code, pts in points.items() for _ in pts]
    flat = [frame.to_m(pt) for pts in points.values() for pt in pts]
    if len(set(codes)) < 2:
        return {code: shapely.box(-1e7, -1e7, 1e7, 1e7) for code in points}
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(flat),
                                                       extend_to=shapely.box(-1e7, -1e7, 1e7, 1e7)))
    tree = shapely.STRtree(cells)
    mine: dict[str, list[shapely.Geometry]] = {code: [] for code in points}
    for code, pt in zip(codes, flat, strict=True):
        mine[code].extend(cells[i] for i in tree.query(pt, predicate="intersects"))
    return {code: shapely.union_all(c) for code, c in mine.items()}


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of ``geom`` (an intersection may also hold the lines and points where shapes touch)."""
    return shapely.union_all([g for g in shapely.get_parts(geom) if g.geom_type == "Polygon"])


def town_outlines(towns: Sequence[Mapping[str, Any]], sites: Iterable[Site]) -> dict[str, dict[str, Any]]:
    """Outline of each town (``code``, ``lon``, ``lat`` mappings) from its sites: code -> GeoJSON (Multi)Polygon."""
    centres = [(float(t["lon"]), float(t["lat"])) for t in towns]
    if not centres:
        return {}
    frame = _Frame.at(*np.mean(centres, axis=0))
    shapes: dict[str, list[shapely.Geometry]] = {t["code"]: [] for t in towns}
    points: dict[str, list[shapely.Geometry]] = {t["code"]: [] for t in towns}
    for s in sites:
        town = s.region_code[:8]
        if s.geometry and town in shapes:
            shapes[town].append(shape(s.geometry))
            points[town].append(shapely.Point(s.lon, s.lat) if s.lon is not None and s.lat is not None
                                else shapely.point_on_surface(shapes[town][-1]))
    placed = {code: pts for code, pts in points.items() if pts}
    ground = _ground(frame, placed)
    out = {}
    for code in placed:
        hull = shapely.convex_hull(frame.to_m(shapely.GeometryCollection(shapes[code])))
        area = _polygonal(shapely.intersection(shapely.buffer(hull, BUFFER_M).simplify(SIMPLIFY_M), ground[code]))
        out[code] = validate_polygon(json.loads(shapely.to_geojson(frame.to_deg(area))))
    return out
