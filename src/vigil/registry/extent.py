"""Where a region lies on the ground: the one rule for "does this map belong to that region".

A region may carry an outline (``Region.outline``, a WGS84 (Multi)Polygon). When the region or one of its
ancestors has one, the nearest such outline is its extent, and a map belongs to the region when it comes within
:data:`MARGIN_M` of it.

Without an outline up the tree, a region's extent is what the registry places in its subtree (its child regions
included, by the code prefix): the polygons and positions of its sites, the positions of its cameras, and the
reference points of the region and of every region under it. The extent is then the convex hull of those
places, and a map belongs to the region when it comes within :data:`MARGIN_M` of that hull: what is registered
only samples a region (a community to plan may lie beyond its last registered site), so the margin is wide
enough for a neighbouring community and too narrow for another county. A region with nothing placed in it yet
(a new village) is judged by its nearest ancestor that has something placed; when no region up the tree has
anything, nothing is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import shapely
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.core.errors import InputError
from vigil.core.ids import ancestor_codes
from vigil.core.models import Camera, Region, Site
from vigil.core.regions import in_subtree

__all__ = ["MARGIN_M", "AreaOutsideRegion", "ExtentBasis", "RegionExtent", "check_in_region", "nearest_extent",
           "outline_extent", "region_extent"]

#: how far (metres) a map may lie from what is registered in its region and still belong to it
MARGIN_M = 10_000.0
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0  # at the equator; times cos(latitude)


class ExtentBasis(StrEnum):
    """What a region's extent was drawn from."""

    OUTLINE = "outline"  # the region's own outline, or its nearest ancestor's
    PLACES = "places"  # the hull of the sites, cameras and reference points of its subtree


_BASIS_WORDS = {ExtentBasis.OUTLINE: "the region's outline", ExtentBasis.PLACES: "the region's sites and cameras"}


class AreaOutsideRegion(InputError):
    """A map (a plan's area) lies outside the region it was given for."""

    def __init__(self, region_code: str, region_name: str, distance_m: float, margin_m: float, *,
                 basis: ExtentBasis = ExtentBasis.PLACES) -> None:
        self.region_code, self.region_name = region_code, region_name
        self.distance_m, self.margin_m, self.basis = distance_m, margin_m, basis
        super().__init__(f"the map lies outside region {region_code} ({region_name}): it is "
                         f"{distance_m / 1000:.1f} km from {_BASIS_WORDS[basis]} (at most "
                         f"{margin_m / 1000:g} km); pick the region the map belongs to, or a map of this region")


@dataclass(frozen=True)
class RegionExtent:
    """A region's extent: a WGS84 area (its outline, or the hull of what is placed in it) and the margin around it."""

    region_code: str
    region_name: str
    area: shapely.Geometry
    margin_m: float = MARGIN_M
    basis: ExtentBasis = ExtentBasis.PLACES

    def distance_m(self, geom: shapely.Geometry) -> float:
        """Metres from ``geom`` (WGS84) to the area, 0 where they meet (a flat frame at the area's latitude)."""
        scale = np.array([_M_PER_DEG_LON * math.cos(math.radians(shapely.centroid(self.area).y)), _M_PER_DEG_LAT])
        area, other = (shapely.transform(g, lambda xy: xy * scale) for g in (self.area, geom))
        return float(shapely.distance(area, other))

    def holds(self, geom: shapely.Geometry) -> bool:
        """``geom`` comes within the margin of the area."""
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
    """The hull of what is placed in ``region_code``'s subtree (see the module), or None when nothing is."""
    region = session.get(Region, region_code)
    places = _places(session, region_code)
    if not len(places):
        return None
    hull = shapely.convex_hull(shapely.multipoints(places))
    return RegionExtent(region_code, region.name if region else region_code, hull, margin_m, ExtentBasis.PLACES)


def outline_extent(session: Session, region_code: str, *, margin_m: float = MARGIN_M) -> RegionExtent | None:
    """The outline of ``region_code``, else of its nearest ancestor with one (by the code prefix), else None."""
    try:
        chain = [region_code, *ancestor_codes(region_code)]
    except InputError:  # not a region code: no region, no outline
        chain = [region_code]
    rows = session.execute(select(Region.code, Region.name, Region.outline)
                           .where(Region.code.in_(chain), Region.outline.is_not(None))).all()
    nearest = max((r for r in rows if r.outline), key=lambda r: len(r.code), default=None)
    if nearest is None:
        return None
    return RegionExtent(nearest.code, nearest.name, shape(nearest.outline), margin_m, ExtentBasis.OUTLINE)


def nearest_extent(session: Session, region_code: str, *, margin_m: float = MARGIN_M) -> RegionExtent | None:
    """The extent a map for ``region_code`` is judged by (see the module), or None when nothing says where it lies.

    The nearest outline up the tree first; else the hull of what is placed in the region, or in its nearest
    ancestor with something placed (a new village with no site yet is judged by its town).
    """
    found = outline_extent(session, region_code, margin_m=margin_m)
    if found is not None:
        return found
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

    The nearest outline up the tree is used, else the hull of the region's (or its nearest placed ancestor's)
    places; the error names the region whose extent refused it.
    """
    ext = nearest_extent(session, region_code, margin_m=margin_m)
    if ext is not None and not ext.holds(geom):
        raise AreaOutsideRegion(ext.region_code, ext.region_name, ext.distance_m(geom), margin_m, basis=ext.basis)
