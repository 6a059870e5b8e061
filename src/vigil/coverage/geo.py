"""Geodata input: building footprints, roads, boundaries and points, reprojected to a local metric CRS.

Every reader returns geometry in metres in the area's UTM zone (:class:`LocalFrame`). Real data is
messy, so footprints are repaired (``shapely.make_valid``), pieces cut along vector-tile edges are
merged by their ``id``, and points tagged as buildings become small square footprints.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyproj import CRS, Transformer

from vigil.core.errors import InputError

__all__ = ["Buildings", "Feature", "LocalFrame", "geojson_dump", "load_buildings", "load_lines", "load_points",
           "load_polygons", "osm_entrances", "osm_towers", "read_features"]

DEFAULT_HEIGHT_M = 10.0
METRES_PER_LEVEL = 3.0
POINT_BUILDING_SIDE_M = 8.0
_OSM_SUFFIXES = (".osm", ".pbf", ".osm.pbf")


@dataclass(frozen=True, slots=True)
class Feature:
    """One geometry (in the source CRS) with its properties."""

    geom: shapely.Geometry
    props: dict[str, Any]


@dataclass(frozen=True)
class LocalFrame:
    """A local metric CRS (the UTM zone of the area) and the transforms to and from WGS84."""

    crs: CRS
    to_local: Transformer
    to_wgs84: Transformer

    @classmethod
    def around(cls, lon: float, lat: float) -> LocalFrame:
        """The UTM zone containing ``lon``/``lat``."""
        if not (-180 <= lon <= 180 and -85 <= lat <= 85):
            raise InputError(f"centre ({lon:.3f}, {lat:.3f}) is not a WGS84 position")
        zone = int((lon + 180) // 6) % 60 + 1
        crs = CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
        return cls(crs, Transformer.from_crs(4326, crs, always_xy=True),
                   Transformer.from_crs(crs, 4326, always_xy=True))

    def local(self, geoms: Any) -> Any:
        """Project WGS84 geometries (array or single) to metres."""
        return shapely.transform(geoms, lambda xy: np.column_stack(self.to_local.transform(xy[:, 0], xy[:, 1])))

    def wgs84(self, geoms: Any) -> Any:
        """Project local geometries back to WGS84 lon/lat."""
        return shapely.transform(geoms, lambda xy: np.column_stack(self.to_wgs84.transform(xy[:, 0], xy[:, 1])))

    def lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local metres to lon/lat arrays."""
        lon, lat = self.to_wgs84.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon), np.asarray(lat)


def _osm_layer(path: Path, layer: str) -> bool:
    return path.name.lower().endswith(_OSM_SUFFIXES) and bool(layer)


def read_features(path: str | Path, *, osm_layer: str = "", crs: str | None = None) -> list[Feature]:
    """Read every feature of ``path`` (GeoJSON, GeoPackage, OSM XML/PBF...) and return them in WGS84.

    ``crs`` overrides the file's CRS (use it when the file has none or a wrong one). A file whose
    coordinates cannot be WGS84 although it claims (or implies) so is rejected with a clear error.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    try:
        kw = {"layer": osm_layer} if _osm_layer(p, osm_layer) else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # repeated ids: merged below
            meta, _, wkb, fields = pyogrio.raw.read(p, **kw)
    except Exception as exc:  # pyogrio raises several kinds of DataSourceError
        raise InputError(f"{p}: not a readable vector file ({exc})") from exc
    names = list(meta["fields"])
    geoms = shapely.from_wkb(wkb) if len(wkb) else np.array([], dtype=object)
    src = crs or meta.get("crs") or _geojson_crs(p)
    geoms = _to_wgs84(p, geoms, src)
    out = []
    for i, g in enumerate(geoms):
        if g is None or shapely.is_empty(g):
            continue
        props = {n: _plain(fields[k][i]) for k, n in enumerate(names)}
        if "other_tags" in props:
            props.update(_hstore(props.pop("other_tags") or ""))
        out.append(Feature(g, props))
    return out


def _geojson_crs(p: Path) -> str | None:
    if p.suffix.lower() in (".geojson", ".json"):
        return "EPSG:4326"  # RFC 7946: GeoJSON is WGS84 unless it says otherwise
    return None


def _to_wgs84(p: Path, geoms: np.ndarray, src: str | None) -> np.ndarray:
    if len(geoms) == 0:
        return geoms
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    looks_lonlat = xmin >= -180 and xmax <= 180 and ymin >= -90 and ymax <= 90
    if src is None:
        if not looks_lonlat:
            raise InputError(f"{p}: the file has no CRS and its coordinates are not lon/lat; "
                             "give the CRS (e.g. --crs EPSG:3857)")
        return geoms
    try:
        crs = CRS.from_user_input(src)
    except Exception as exc:
        raise InputError(f"{p}: unknown CRS {src!r}") from exc
    if crs.is_geographic and not looks_lonlat:
        raise InputError(f"{p}: coordinates up to ({xmax:.0f}, {ymax:.0f}) cannot be lon/lat although the file "
                         f"says {crs.to_string()}; it is probably projected (e.g. EPSG:3857): give --crs")
    if crs.equals(CRS.from_epsg(4326)):
        return geoms
    tr = Transformer.from_crs(crs, 4326, always_xy=True)
    out = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    xmin, ymin, xmax, ymax = shapely.total_bounds(out)
    if not (np.isfinite([xmin, xmax, ymin, ymax]).all() and xmin >= -180 and xmax <= 180):
        raise InputError(f"{p}: coordinates do not fit the CRS {crs.to_string()}")
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


def _hstore(s: str) -> dict[str, str]:
    """Parse GDAL's OSM ``other_tags`` ("k"=>"v","k2"=>"v2")."""
    out: dict[str, str] = {}
    for part in s.split('","'):
        if "=>" in part:
            k, _, v = part.partition("=>")
            out[k.strip('"')] = v.strip('"')
    return out


@dataclass
class Buildings:
    """Footprints in metres: polygons, heights and the community each belongs to (may be empty)."""

    polygons: np.ndarray
    heights: np.ndarray
    ids: list[str]
    names: list[str]
    communities: list[str]
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.polygons)


def _height(props: dict[str, Any]) -> float:
    for key in ("height", "building:height", "height_m"):
        v = _num(props.get(key))
        if v is not None and v > 0:
            return v
    for key in ("levels", "building:levels"):
        v = _num(props.get(key))
        if v is not None and v > 0:
            return v * METRES_PER_LEVEL
    return math.nan


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        x = float(str(v).lower().replace("m", "").strip())
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _is_building(props: dict[str, Any], osm: bool) -> bool:
    if not osm:
        return props.get("building") != "no" and (props.get("kind") or "building") in ("building", "building_part")
    b = props.get("building")
    return b not in (None, "", "no")


def _fid(props: dict[str, Any], i: int) -> str:
    for key in ("id", "osm_id", "osm_way_id", "@id"):
        v = props.get(key)
        if v not in (None, ""):
            return str(v)
    return f"#{i}"


def load_buildings(path: str | Path, *, crs: str | None = None,
                   frame: LocalFrame | None = None) -> tuple[Buildings, LocalFrame]:
    """Read building footprints and return them in a local metric frame (created around them if not given)."""
    p = Path(path)
    osm = p.name.lower().endswith(_OSM_SUFFIXES)
    feats = read_features(p, osm_layer="multipolygons", crs=crs)
    if osm:
        feats += [f for f in read_features(p, osm_layer="points", crs=crs) if _is_building(f.props, True)]
    feats = [f for f in feats if _is_building(f.props, osm)]
    if not feats:
        raise InputError(f"{p}: no building footprints found (the area is empty)")
    wgs = np.array([f.geom for f in feats], dtype=object)
    if frame is None:
        c = shapely.centroid(shapely.envelope(shapely.GeometryCollection(list(wgs))))
        frame = LocalFrame.around(c.x, c.y)
    local = frame.local(wgs)
    return _assemble(feats, local, p), frame


def _assemble(feats: list[Feature], local: np.ndarray, p: Path) -> Buildings:
    warnings: list[str] = []
    pieces: dict[str, list[int]] = defaultdict(list)
    points: list[int] = []
    for i, f in enumerate(feats):
        kind = shapely.get_type_id(local[i])
        if kind in (3, 6):  # Polygon, MultiPolygon
            pieces[_fid(f.props, i)].append(i)
        elif kind in (0, 4):  # Point, MultiPoint
            points.append(i)
    polys, meta = [], []
    invalid = merged = 0
    for fid, idx in pieces.items():
        parts = [local[i] for i in idx]
        invalid += sum(not shapely.is_valid(g) for g in parts)
        geom = _merge_pieces([_polygonal(g) for g in parts])
        merged += len(idx) > 1
        for poly in shapely.get_parts(geom):
            if poly.area >= 1.0:
                polys.append(poly)
                meta.append((fid, feats[idx[0]].props))
    tree = shapely.STRtree(polys) if polys else None
    from_points = 0
    for i in points:
        fid = _fid(feats[i].props, i)
        pt = shapely.get_parts(local[i])[0]
        if fid in pieces or (tree is not None and len(tree.query(pt, predicate="intersects"))):
            continue  # a label point of a footprint we already have
        side = POINT_BUILDING_SIDE_M
        polys.append(shapely.box(pt.x - side / 2, pt.y - side / 2, pt.x + side / 2, pt.y + side / 2))
        meta.append((fid, feats[i].props))
        from_points += 1
    if not polys:
        raise InputError(f"{p}: no usable building footprint (all empty or degenerate)")
    heights = np.array([_height(pr) for _, pr in meta])
    missing = int(np.isnan(heights).sum())
    if invalid:
        warnings.append(f"{invalid} invalid footprint(s) repaired")
    if merged:
        warnings.append(f"{merged} building(s) merged from pieces split at tile edges")
    if from_points:
        warnings.append(f"{from_points} building point(s) turned into {POINT_BUILDING_SIDE_M:.0f} m squares")
    if missing:
        warnings.append(f"{missing} of {len(heights)} building(s) have no height; {DEFAULT_HEIGHT_M:.0f} m assumed")
        heights = np.where(np.isnan(heights), DEFAULT_HEIGHT_M, heights)
    return Buildings(np.array(polys, dtype=object), heights, [m[0] for m in meta],
                     [str(m[1].get("name") or "") for m in meta],
                     [str(m[1].get("community") or "") for m in meta], warnings)


def _polygonal(g: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of ``g`` after repair (lines and points produced by make_valid are dropped)."""
    if not g.is_valid:
        g = shapely.make_valid(g)
    parts = [q for q in shapely.get_parts(g) if shapely.get_type_id(q) in (3, 6)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _merge_pieces(parts: list[shapely.Geometry]) -> shapely.Geometry:
    if len(parts) == 1:
        return parts[0]
    # Tile cuts leave hairline gaps after reprojection: close them with a small buffer and shrink back.
    grown = shapely.union_all([shapely.buffer(q, 0.05, join_style="mitre") for q in parts])
    return shapely.buffer(grown, -0.05, join_style="mitre")


def load_lines(path: str | Path, frame: LocalFrame, *, crs: str | None = None) -> list[shapely.LineString]:
    """Roads and paths (OSM ``highway=*`` ways, or every line of another file) as local line strings."""
    p = Path(path)
    osm = p.name.lower().endswith(_OSM_SUFFIXES)
    feats = read_features(p, osm_layer="lines", crs=crs)
    if osm:
        feats = [f for f in feats if f.props.get("highway") and f.props.get("highway") not in
                 ("motorway", "motorway_link", "construction", "proposed")]
    out: list[shapely.LineString] = []
    for g in frame.local(np.array([f.geom for f in feats], dtype=object)) if feats else []:
        if shapely.get_type_id(g) in (3, 6):
            g = shapely.boundary(g)
        out += [q for q in shapely.get_parts(g) if shapely.get_type_id(q) == 1 and q.length > 0]
    return out


def load_polygons(path: str | Path, frame: LocalFrame, *, crs: str | None = None) -> list[tuple[str, shapely.Geometry]]:
    """Named polygons (site or community boundaries) in local metres, repaired."""
    feats = read_features(path, osm_layer="multipolygons", crs=crs)
    out = []
    for i, f in enumerate(feats):
        g = _polygonal(frame.local(f.geom))
        if not g.is_empty:
            out.append((str(f.props.get("name") or f.props.get("community") or f"boundary {i + 1}"), g))
    if not out:
        raise InputError(f"{path}: no boundary polygon found")
    return out


def load_points(path: str | Path, frame: LocalFrame, *, crs: str | None = None) -> list[Feature]:
    """Point features (must-watch points, existing cameras) with their geometry in local metres."""
    p = Path(path)
    feats = read_features(p, osm_layer="points", crs=crs)
    out = []
    for f in feats:
        g = frame.local(f.geom)
        if shapely.get_type_id(g) != 0:
            g = shapely.centroid(g)
        out.append(Feature(g, f.props))
    return out


def osm_entrances(path: str | Path, frame: LocalFrame) -> list[Feature]:
    """Entrances and gates tagged in an OSM file (empty for other formats)."""
    p = Path(path)
    if not p.name.lower().endswith(_OSM_SUFFIXES):
        return []
    return [f for f in load_points(p, frame) if f.props.get("entrance") or f.props.get("barrier") == "gate"]


TOWER_TAGS = ("tower", "mast", "communications_tower")


def osm_towers(path: str | Path, frame: LocalFrame) -> list[Feature]:
    """Towers and masts (``man_made=tower|mast``) of an OSM file as local points with their ``height`` in metres.

    Nodes and closed ways both count (a way by its centroid); other formats have none.
    """
    p = Path(path)
    if not p.name.lower().endswith(_OSM_SUFFIXES):
        return []
    feats = read_features(p, osm_layer="points") + read_features(p, osm_layer="multipolygons")
    out = []
    for f in feats:
        if f.props.get("man_made") not in TOWER_TAGS:
            continue
        g = frame.local(f.geom)
        h = _height(f.props)
        out.append(Feature(g if shapely.get_type_id(g) == 0 else shapely.centroid(g),
                           {**f.props, "height": None if math.isnan(h) else h}))
    return out


def geojson_dump(path: Path, features: list[dict[str, Any]]) -> None:
    """Write a GeoJSON FeatureCollection (WGS84) with the ODbL attribution."""
    doc = {"type": "FeatureCollection", "attribution": "Map data © OpenStreetMap contributors, ODbL 1.0",
           "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=False))
