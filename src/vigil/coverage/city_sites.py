"""The sites of a city plan: every registry site with a polygon and building data, or a folder of areas.

A :class:`CitySite` is what the city planner needs of one site: its building file (and roads, boundary),
its protection class and head count (for the weights), its existing in-service cameras (fixed columns of
its plan) and its outline for the city map. Sites without building data are returned as skipped, with why.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.guard import Scope
from vigil.core.errors import InputError
from vigil.core.models import Site
from vigil.core.regions import in_subtree
from vigil.coverage.apply import registry_cameras
from vigil.coverage.geo import Feature, read_features

__all__ = ["AREA_SUFFIXES", "CitySite", "Skipped", "area_files", "sites_from_folder", "sites_from_registry"]

AREA_SUFFIXES = (".geojson", ".json", ".osm", ".pbf", ".gpkg")
_SIDECAR = "sites.json"
_SUBFOLDER_AREAS = ("buildings.geojson", "map.osm", "buildings.gpkg", "map.osm.pbf")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
SITE_MARGIN_DEG = 0.0002  # about 20 m: buildings just outside a site still occlude and carry wall mounts


@dataclass(frozen=True, kw_only=True)
class CitySite:
    """One site of a city plan."""

    key: str  # unique within the plan: "site-<id>" for registry sites, the entry name for a folder
    name: str
    area: Path
    roads: Path | None = None
    boundary: Path | None = None
    kind: str = "residential"
    protection_class: int = 2
    households: int | None = None
    population: int | None = None
    region_code: str | None = None
    site_id: int | None = None
    existing: tuple[Feature, ...] = ()
    outline: dict[str, Any] = field(default_factory=dict)  # GeoJSON polygon (WGS84) for the city map

    @property
    def people(self) -> float | None:
        """Population, else households (converted to persons by the weighting rule's household size)."""
        from vigil.coverage.city_alloc import HOUSEHOLD_SIZE

        if self.population:
            return float(self.population)
        return float(self.households) * HOUSEHOLD_SIZE if self.households else None


@dataclass(frozen=True)
class Skipped:
    """A site left out of the plan, and why."""

    name: str
    reason: str


def _hull(path: Path) -> dict[str, Any]:
    feats = read_features(path, osm_layer="multipolygons")
    polys = [f.geom for f in feats if f.geom.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        raise InputError(f"{path}: no building polygons")
    return mapping(shapely.union_all(polys).convex_hull)


def _entry(p: Path) -> tuple[Path, Path | None] | None:
    """(area, roads) of a folder entry: an area file, or a folder holding buildings.geojson or map.osm."""
    if p.is_file() and p.name.lower().endswith(AREA_SUFFIXES) and p.name != _SIDECAR:
        return p, None
    if p.is_dir():
        for name in _SUBFOLDER_AREAS:
            if (p / name).is_file():
                roads = p / "roads.geojson"
                return p / name, roads if roads.is_file() else None
    return None


def area_files(path: str | Path) -> list[Path]:
    """The area files of a building layer: the file itself, or each area entry of a folder (as the planner reads it)."""
    src = Path(path)
    if not src.is_dir():
        return [src]
    return [e[0] for e in (_entry(q) for q in sorted(src.iterdir())) if e]


def _meta_value(meta: dict[str, Any], key: str, kind: type, where: str) -> Any:
    v = meta.get(key)
    if v is None:
        return None
    try:
        return kind(v)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {key} must be a {kind.__name__}, got {v!r}") from None


def sites_from_folder(folder: str | Path) -> tuple[list[CitySite], list[Skipped]]:
    """One site per area file or area sub-folder of ``folder``.

    An optional ``sites.json`` maps an entry's name (file stem or folder name) to ``name``, ``kind``,
    ``protection_class`` (1-3), ``households`` and ``population``.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder of areas")
    meta_all: dict[str, Any] = {}
    if (root / _SIDECAR).is_file():
        try:
            meta_all = json.loads((root / _SIDECAR).read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{root / _SIDECAR}: not valid JSON ({exc})") from None
        if not isinstance(meta_all, dict):
            raise InputError(f"{root / _SIDECAR}: expected an object keyed by entry name")
    sites, skipped = [], []
    for p in sorted(root.iterdir()):
        found = _entry(p)
        if found is None:
            continue
        stem = p.name.split(".")[0] if p.is_file() else p.name
        meta = meta_all.get(stem) or {}
        where = f"{root / _SIDECAR} [{stem}]"
        pc = _meta_value(meta, "protection_class", int, where) or 2
        if pc not in (1, 2, 3):
            raise InputError(f"{where}: protection_class must be 1, 2 or 3, got {pc}")
        try:
            outline = _hull(found[0])
        except InputError as exc:
            skipped.append(Skipped(stem, str(exc)))
            continue
        sites.append(CitySite(key=_SAFE.sub("_", stem), name=str(meta.get("name") or stem), area=found[0],
                              roads=found[1], kind=str(meta.get("kind") or "residential"), protection_class=pc,
                              households=_meta_value(meta, "households", int, where),
                              population=_meta_value(meta, "population", int, where), outline=outline))
    if not sites:
        raise InputError(f"{root}: no area files (GeoJSON, OSM, GeoPackage) or area folders with building data")
    return sites, skipped


def _write(path: Path, feats: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def sites_from_registry(session: Session, *, scope: Scope, region_code: str, buildings: str | Path,
                        work: str | Path) -> tuple[list[CitySite], list[Skipped]]:
    """The registry's sites in ``scope`` under ``region_code`` that have a polygon and buildings inside it.

    ``buildings`` is the city's footprint layer (a file or a folder of files); each site gets the buildings
    within about 20 m of its polygon, written under ``work``, and its in-service cameras in ``scope``.
    """
    src = Path(buildings)
    feats = [f for area in area_files(src) for f in read_features(area, osm_layer="multipolygons")
             if f.geom.geom_type in ("Polygon", "MultiPolygon")]
    if not feats:
        raise InputError(f"{src}: no building polygons")
    tree = shapely.STRtree([f.geom for f in feats])
    rows = session.scalars(select(Site).where(scope.clause(Site.region_code), in_subtree(Site.region_code, region_code))
                           .order_by(Site.id)).all()
    sites, skipped = [], []
    for s in rows:
        if not s.geometry:
            skipped.append(Skipped(s.name, "no polygon"))
            continue
        try:
            poly = shape(s.geometry)
        except (ValueError, TypeError, AttributeError, KeyError):
            skipped.append(Skipped(s.name, "polygon is not valid GeoJSON"))
            continue
        hits = tree.query(poly.buffer(SITE_MARGIN_DEG), predicate="intersects")
        if not any(poly.contains(shapely.centroid(feats[i].geom)) for i in hits):
            skipped.append(Skipped(s.name, "no building data inside its polygon"))
            continue
        d = Path(work) / f"site-{s.id}"
        area = _write(d / "buildings.geojson", [{"type": "Feature", "properties": feats[i].props,
                                                  "geometry": mapping(feats[i].geom)} for i in hits])
        boundary = _write(d / "boundary.geojson", [{"type": "Feature", "properties": {"name": s.name},
                                                     "geometry": mapping(poly)}])
        cams = registry_cameras(session, area, scope=scope.narrowed(region_code))
        inside = [c for c in cams if poly.buffer(SITE_MARGIN_DEG * 5).contains(c.geom)]
        sites.append(CitySite(key=f"site-{s.id}", name=s.name, area=area, boundary=boundary, kind=s.kind,
                              protection_class=s.protection_class if s.protection_class in (1, 2, 3) else 3,
                              region_code=s.region_code, site_id=s.id, existing=tuple(inside),
                              outline=mapping(poly)))
    return sites, skipped
