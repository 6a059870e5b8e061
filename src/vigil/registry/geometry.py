"""Site geometry: the one rule for polygons, used by the importer and by the API alike.

A site's geometry is a GeoJSON ``Polygon`` or ``MultiPolygon`` in WGS84 longitude/latitude:
every position is two or three finite numbers (``true``/``false`` are not numbers), longitudes
lie in -180..180 and latitudes in -90..90, the polygon is valid (no bow-tie, no self-crossing)
and it has at most :data:`MAX_VERTICES` vertices. The structure is walked level by level, so a
document nested deeper than a MultiPolygon is refused without recursing into it.
"""

from __future__ import annotations

import json
import math
from typing import Any

import shapely
import shapely.errors
from shapely.geometry import mapping, shape

from vigil.core.errors import InputError

__all__ = ["MAX_VERTICES", "WGS84_CRS", "check_crs", "parse_polygon", "validate_polygon"]

#: the most vertices a site polygon may have (a city block needs tens; a district outline a few thousand)
MAX_VERTICES = 20_000
#: names of WGS84 longitude/latitude a GeoJSON ``crs`` member may give (RFC 7946 drops ``crs``: absent is WGS84)
WGS84_CRS = frozenset({"urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "EPSG:4326",
                       "urn:ogc:def:crs:EPSG::4326", "http://www.opengis.net/def/crs/OGC/1.3/CRS84"})


def check_crs(crs: Any) -> None:
    """Refuse a GeoJSON ``crs`` member that does not name WGS84 (absent or null is WGS84)."""
    if crs is None:
        return
    name = crs.get("properties", {}).get("name") if isinstance(crs, dict) and crs.get("type") == "name" else None
    if not isinstance(name, str) or name.strip() not in WGS84_CRS:
        raise InputError(f"coordinates must be WGS84 longitude/latitude (found crs {json.dumps(crs)[:80]})")


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _rings(polygon: Any, count: list[int]) -> None:
    if not isinstance(polygon, list) or not polygon:
        raise InputError("must be a list of linear rings")
    for ring in polygon:
        if not isinstance(ring, list) or len(ring) < 4:
            raise InputError("each ring must be a list of at least 4 positions")
        count[0] += len(ring)
        if count[0] > MAX_VERTICES:
            raise InputError(f"has more than {MAX_VERTICES} vertices")
        for pos in ring:
            if not isinstance(pos, list) or len(pos) not in (2, 3) or not all(_number(c) for c in pos):
                raise InputError("each position must be [longitude, latitude] numbers")


def validate_polygon(g: Any) -> dict[str, Any]:
    """Check a GeoJSON geometry mapping by the site rule; return it normalised, or raise InputError."""
    if not isinstance(g, dict):
        raise InputError("must be a GeoJSON Polygon or MultiPolygon object")
    kind, coords = g.get("type"), g.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon"):
        raise InputError(f"must be a Polygon or MultiPolygon, not {str(kind)[:40]!r}")
    check_crs(g.get("crs"))
    count = [0]
    if kind == "Polygon":
        _rings(coords, count)
    else:
        if not isinstance(coords, list) or not coords:
            raise InputError("a MultiPolygon must be a list of polygons")
        for polygon in coords:
            _rings(polygon, count)
    try:
        geom = shape({"type": kind, "coordinates": coords})
    except (ValueError, TypeError, shapely.errors.ShapelyError) as exc:
        raise InputError(f"is not a polygon ({str(exc).splitlines()[0][:80]})") from None
    return _check_shape(geom)


def _check_shape(geom: Any) -> dict[str, Any]:
    if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InputError(f"must be a Polygon or MultiPolygon, not {getattr(geom, 'geom_type', 'empty')}")
    if geom.is_empty:
        raise InputError("is empty")
    if shapely.get_num_coordinates(geom) > MAX_VERTICES:
        raise InputError(f"has more than {MAX_VERTICES} vertices")
    x0, y0, x1, y1 = geom.bounds
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        raise InputError("has coordinates outside longitude -180..180 / latitude -90..90 (must be WGS84)")
    if not geom.is_valid:
        raise InputError(f"is not a valid polygon: {shapely.is_valid_reason(geom)}")
    return json.loads(json.dumps(mapping(geom)))


def parse_polygon(text: str) -> dict[str, Any]:
    """Parse WKT or GeoJSON text into a GeoJSON (Multi)Polygon mapping in WGS84; raise InputError."""
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except RecursionError:
            raise InputError("is nested too deeply to be a polygon") from None
        except ValueError as exc:
            raise InputError(f"is neither WKT nor GeoJSON geometry ({str(exc).splitlines()[0][:80]})") from None
        return validate_polygon(doc)
    try:
        geom = shapely.from_wkt(text)
    except (ValueError, TypeError, shapely.errors.ShapelyError) as exc:
        raise InputError(f"is neither WKT nor GeoJSON geometry ({str(exc).splitlines()[0][:80]})") from None
    return _check_shape(geom)
