"""Export of regions in the import's columns: CSV (no outline) or GeoJSON (the outline as each feature's geometry).

What is exported imports back unchanged (``vigil import regions``): the same codes, names, levels, parents,
positions and, from GeoJSON, outlines.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope
from vigil.core.errors import InputError
from vigil.core.models import Region
from vigil.core.regions import in_subtree
from vigil.registry.io_common import common_region, defuse_formula
from vigil.registry.io_export import check_export_region

__all__ = ["REGION_EXPORT_FORMATS", "RegionExportFormat", "export_regions"]

RegionExportFormat = Literal["csv", "geojson"]
#: format -> (media type, file extension)
REGION_EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "geojson": ("application/geo+json", ".geojson"),
}
_FIELDS = ("code", "name", "level", "parent", "lon", "lat")


def _rows(session: Session, region: str | None, scope: Scope, outlines: bool) -> list[dict[str, Any]]:
    cols = [Region.code, Region.name, Region.level, Region.parent_code.label("parent"), Region.lon, Region.lat]
    stmt = select(*cols, *([Region.outline] if outlines else [])).where(scope.clause(Region.code))
    if region:
        stmt = stmt.where(in_subtree(Region.code, region))
    return [dict(r._mapping) for r in session.execute(stmt.order_by(Region.level, Region.code))]


def export_regions(session: Session, *, scope: Scope, fmt: RegionExportFormat = "csv", region: str | None = None,
                   actor: str = "system") -> bytes:
    """The regions in ``scope`` (and in ``region``'s subtree, if given) as file bytes; the export is audited.

    ``scope`` is the caller's; the instance's own is ``Scope.everything()``.
    """
    if fmt not in get_args(RegionExportFormat):
        raise InputError(f"unknown export format {fmt!r}; use csv or geojson")
    code = check_export_region(session, region, scope) if region else None
    rows = _rows(session, code, scope, outlines=fmt == "geojson")
    data = _geojson(rows) if fmt == "geojson" else _csv(rows)
    record(session, actor, "regions.export", f"export:regions:{code or '*'}",
           region=code or common_region(scope.roots()), format=fmt, count=len(rows), scope=str(scope))
    return data


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_FIELDS)
    w.writerows([defuse_formula("" if r[f] is None else r[f]) for f in _FIELDS] for r in rows)
    return buf.getvalue().encode("utf-8-sig")  # the BOM lets spreadsheet programs see UTF-8


def _geojson(rows: list[dict[str, Any]]) -> bytes:
    features = [{"type": "Feature", "id": r["code"], "geometry": r["outline"],
                 "properties": {f: r[f] for f in _FIELDS}} for r in rows]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                      separators=(",", ":")).encode()
