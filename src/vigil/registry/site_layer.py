"""The map's base layer of sites: one GeoJSON FeatureCollection per (caller's scope, region), with a cheap tag.

The tag comes from one aggregate query (how many sites, their ids, versions and last change), so a caller that
already holds the layer learns it is unchanged without the polygons being read or encoded again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.access.users import Principal
from vigil.core.models import Site
from vigil.core.regions import in_subtree
from vigil.registry.service import get_region

__all__ = ["COORD_DIGITS", "layer_json", "layer_tag", "rounded", "site_layer_json", "site_layer_tag"]

#: decimals kept in the layer's coordinates: 1e-6 degree is about 0.1 m, well under a screen pixel at zoom 20
COORD_DIGITS = 6


def _where(p: Principal, region: str | None) -> list[Any]:
    clauses = [p.scope.clause(Site.region_code), Site.geometry.is_not(None)]
    if region:
        clauses.append(in_subtree(Site.region_code, region))
    return clauses


def site_layer_tag(session: Session, p: Principal, region: str | None) -> str:
    """A strong ETag of the layer ``p`` sees in ``region``: it changes when a site is added, changed or removed.

    Raises NotFoundError for a region outside the caller's scope (as the other region queries do).
    """
    if region:
        get_region(session, p, region)
    agg = session.execute(select(func.count(Site.id), func.coalesce(func.sum(Site.id), 0),
                                 func.coalesce(func.sum(Site.version), 0), func.max(Site.updated_at))
                          .where(*_where(p, region))).one()
    return layer_tag("sites", p, region or "", agg)


def layer_tag(kind: str, p: Principal, query: str, agg: Any) -> str:
    """A strong ETag of a map layer: its kind, the caller's scopes, the query and an aggregate of its rows."""
    key = f"{sorted(p.scopes)}|{query}|{COORD_DIGITS}|{'|'.join(map(str, agg))}"
    return f'"{kind}-' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def _round(coords: Any) -> Any:
    if isinstance(coords, (int, float)):
        return round(coords, COORD_DIGITS)
    return [_round(c) for c in coords]


def rounded(g: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON geometry with its coordinates rounded to :data:`COORD_DIGITS` decimals."""
    if "coordinates" in g:
        return {**g, "coordinates": _round(g["coordinates"])}
    if "geometries" in g:
        return {**g, "geometries": [rounded(x) for x in g["geometries"]]}
    return g


def layer_json(features: list[dict[str, Any]]) -> bytes:
    """Features as one compact GeoJSON FeatureCollection (UTF-8)."""
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                      separators=(",", ":")).encode()


def site_layer_json(session: Session, p: Principal, region: str | None) -> bytes:
    """The sites with a geometry as compact GeoJSON (UTF-8): id, name, kind, class, sensitive, region per feature."""
    rows = session.execute(select(Site.id, Site.name, Site.kind, Site.protection_class, Site.sensitive,
                                  Site.region_code, Site.geometry).where(*_where(p, region)).order_by(Site.id)).all()
    return layer_json([{"type": "Feature", "id": r.id, "geometry": rounded(r.geometry),
                        "properties": {"id": r.id, "name": r.name, "kind": r.kind,
                                       "protection_class": r.protection_class, "sensitive": r.sensitive,
                                       "region_code": r.region_code}}
                       for r in rows if r.geometry])  # a geometry set to None is stored as JSON null
