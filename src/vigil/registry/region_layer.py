"""The map's base layer of region outlines: one GeoJSON FeatureCollection per (caller's scope, region), with a tag.

Only regions inside the caller's scope are drawn (the ancestors a scoped user sees by name in the tree are not:
their outlines would show another town's ground). With ``ancestors`` the layer also holds the outlines of the
region's ancestors that are in scope, the frame a plan of a village is judged in (:mod:`vigil.registry.extent`).
Each feature carries a label point inside its outline, where the console writes the region's name.
"""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry import shape
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from vigil.access.users import Principal
from vigil.core.ids import ancestor_codes
from vigil.core.models import Region
from vigil.core.regions import in_subtree
from vigil.registry.service import get_region
from vigil.registry.site_layer import COORD_DIGITS, layer_json, layer_tag, rounded

__all__ = ["region_layer_json", "region_layer_tag"]


def _where(p: Principal, region: str | None, ancestors: bool) -> list[Any]:
    clauses = [p.scope.clause(Region.code), Region.outline.is_not(None)]
    if region:
        within = in_subtree(Region.code, region)
        clauses.append(or_(within, Region.code.in_(ancestor_codes(region))) if ancestors else within)
    return clauses


def region_layer_tag(session: Session, p: Principal, region: str | None, *, ancestors: bool = False) -> str:
    """A strong ETag of the outlines ``p`` sees in ``region``: it changes when an outline is set, changed or cleared.

    Raises NotFoundError for a region outside the caller's scope (as the other region queries do).
    """
    if region:
        get_region(session, p, region)
    agg = session.execute(select(func.count(Region.code), func.coalesce(func.sum(Region.version), 0),
                                 func.max(Region.updated_at), func.max(Region.code))
                          .where(*_where(p, region, ancestors))).one()
    return layer_tag("regions", p, f"{region or ''}|{ancestors}", agg)


def _label(outline: dict[str, Any]) -> list[float]:
    pt = shapely.point_on_surface(shape(outline))
    return [round(pt.x, COORD_DIGITS), round(pt.y, COORD_DIGITS)]


def region_layer_json(session: Session, p: Principal, region: str | None, *, ancestors: bool = False) -> bytes:
    """The outlines as compact GeoJSON (UTF-8): code, name, level, parent and a label point per feature."""
    rows = session.execute(select(Region.code, Region.name, Region.level, Region.parent_code, Region.outline)
                           .where(*_where(p, region, ancestors)).order_by(Region.level, Region.code)).all()
    return layer_json([{"type": "Feature", "id": r.code, "geometry": rounded(r.outline),
                        "properties": {"code": r.code, "name": r.name, "level": r.level,
                                       "parent_code": r.parent_code, "label": _label(r.outline)}}
                       for r in rows if r.outline])
