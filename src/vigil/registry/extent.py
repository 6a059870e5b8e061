"""Where a region lies on the ground: the one rule for "does this map belong to that region".

Regions carry no outline, only an optional reference point. A region's extent is therefore what the registry
places in its subtree (its child regions included, by the code prefix): the polygons and positions of its
sites, the positions of its cameras, and the reference points of the region and of every region under it.
The extent is the convex hull of those places, and a map belongs to the region when it comes within
:data:`MARGIN_M` of that hull: what is registered only samples a region (a community to plan may lie beyond its
last registered site), so the margin is wide enough for a neighbouring community and too narrow for another
county. A region with nothing placed in it yet (a new village) is judged by its nearest ancestor that has
something placed; when no region up the tree has anything, nothing is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.core.errors import InputError
from vigil.core.models import Camera, Region, Site
from vigil.core.regions import in_subtree

__all__ = ["MARGIN_M", "AreaOutsideRegion", "RegionExtent", "check_in_region", "nearest_extent", "region_extent"]

#: how far (metres) a map may lie from what is registered in its region and still belong to it
MARGIN_M = 10_000.0
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0  # at the equator; times cos(latitude)


class AreaOutsideRegion(InputError):
    """A map (a plan's area) lies outside the region it was given for."""

    def __init__(self, region_code: str, region_name: str, distance_m: float, margin_m: float) -> None:
        self.region_code, self.region_name = region_code, region_name
        self.distance_m, self.margin_m = distance_m, margin_m
        super().__init__(f"the map lies outside region {region_code} ({region_name}): it is "
                         f"{distance_m / 1000:.1f} km from the region's sites and cameras (at most "
                         f"{margin_m / 1000:g} km); pick the region the map belongs to, or a map of this region")


@dataclass(frozen=True)
class RegionExtent:
    """A region's extent: the WGS84 convex hull of what is placed in its subtree, and the margin around it."""

    region_code: str
    region_name: str
    hull: shapely.Geometry
    margin_m: float = MARGIN_M

    def distance_m(self, geom: shapely.Geometry) -> float:
        """Metres from ``geom`` (WGS84) to the hull, 0 where they meet (a flat frame at the hull's latitude)."""
        scale = np.array([_M_PER_DEG_LON * math.cos(math.radians(shapely.centroid(self.hull).y)), _M_PER_DEG_LAT])
        hull, other = (shapely.transform(g, lambda xy: xy * scale) for g in (self.hull, geom))
        return float(shapely.distance(hull, other))

    def holds(self, geom: shapely.Geometry) -> bool:
        """``geom`` comes within the margin of the hull."""
        return self.distance_m(geom) <= self.margin_m


def _outer_vertices(geometry: dict) -> list[tuple[float, float]]:
    """The outer-ring vertices of a site's GeoJSON Polygon or MultiPolygon: their hull is the shape's hull."""
    polygons = [geometry["coordinates"]] if geometry.get("type") == "Polygon" else geometry.get("coordinates") or []
    return [(pt[0], pt[1]) for polygon in polygons if polygon for pt in polygon[0]]


def _places(session: Session, code: str) -> np.ndarray:
    """Every placed lon/lat of the subtree, ``(n, 2)``: site outlines and points, cameras, region reference points."""
    out: list[tuple[float, float]] = []
    for geometry, lon, lat in session.execute(
            select(Site.geometry, Site.lon, Site.lat).where(in_subtree(Site.region_code, code))):
        if geometry:
            out.extend(_outer_vertices(geometry))
        if lon is not None and lat is not None:
            out.append((lon, lat))
    for model, column in ((Camera, Camera.region_code), (Region, Region.code)):
        rows = session.connection().execute(select(model.lon, model.lat).where(
            in_subtree(column, code), model.lon.is_not(None), model.lat.is_not(None)))
        # plain tuples: numpy reads a Row key by key (the None test only narrows: the query skips them)
        out.extend((lon, lat) for lon, lat in rows if lon is not None and lat is not None)
    return np.asarray(out, dtype=float).reshape(-1, 2)


def region_extent(session: Session, region_code: str, *, margin_m: float = MARGIN_M) -> RegionExtent | None:
    """The extent of ``region_code`` (see the module), or None when nothing is placed in its subtree."""
    region = session.get(Region, region_code)
    places = _places(session, region_code)
    if not len(places):
        return None
    hull = shapely.convex_hull(shapely.multipoints(places))
    return RegionExtent(region_code, region.name if region else region_code, hull, margin_m)


def nearest_extent(session: Session, region_code: str, *, margin_m: float = MARGIN_M) -> RegionExtent | None:
    """The extent of ``region_code``, else of its nearest ancestor with something placed, else None.

    A new village with no site yet is judged by its town.
    """
    code: str | None = region_code
    while code:
        ext = region_extent(session, code, margin_m=margin_m)
        if ext is not None:
            return ext
        region = session.get(Region, code)
        code = region.parent_code if region else None
    return None


def check_in_region(session: Session, region_code: str, geom: shapely.Geometry, *,
                    margin_m: float = MARGIN_M) -> None:
    """Refuse ``geom`` (WGS84) with :class:`AreaOutsideRegion` unless it belongs to ``region_code``'s extent.

    When nothing is placed in the region yet, its nearest placed ancestor's extent is used (the error names it).
    """
    ext = nearest_extent(session, region_code, margin_m=margin_m)
    if ext is not None and not ext.holds(geom):
        raise AreaOutsideRegion(ext.region_code, ext.region_name, ext.distance_m(geom), margin_m)
