"""Export of cameras as CSV (the import columns), GeoJSON points or a GeoPackage layer, in WGS84."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope, ensure_visible
from vigil.core.crypto import CredentialBox
from vigil.core.errors import InputError, NotFoundError
from vigil.core.ids import validate_region_code
from vigil.core.models import Camera, CameraModel, Region, Site
from vigil.registry.io_cameras import CAMERA_FIELDS
from vigil.registry.io_common import common_region, defuse_formula
from vigil.registry.streams import redact_url

__all__ = ["EXPORT_FORMATS", "ExportFormat", "check_export_region", "export_cameras"]

ExportFormat = Literal["csv", "geojson", "gpkg"]
#: format -> (media type, file extension)
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "geojson": ("application/geo+json", ".geojson"),
    "gpkg": ("application/geopackage+sqlite3", ".gpkg"),
}
_FLOATS = {"lon", "lat", "height_m", "heading_deg", "tilt_deg"}
_QUERY = (Camera.id, Camera.name, Camera.region_code.label("region"), Site.name.label("site"), Camera.lon,
          Camera.lat, Camera.height_m, Camera.heading_deg, Camera.tilt_deg, CameraModel.name.label("model"),
          Camera.kind, Camera.owner, Camera.lifecycle, Camera.main_url, Camera.sub_url, Camera.onvif_url,
          Camera.username, Camera.password_enc)


def check_export_region(session: Session, region: str, scope: Scope) -> str:
    """The code of ``region`` to export, if the caller may see it; else NotFoundError."""
    try:
        code = validate_region_code(region)
    except InputError:
        raise NotFoundError(f"region {region!r} not found") from None
    ensure_visible(scope, code, f"region {code}")
    if session.get(Region, code) is None:
        raise NotFoundError(f"region {code} not found")
    return code


def _rows(session: Session, region: str | None, scope: Scope, box: CredentialBox | None,
          include_secrets: bool) -> list[dict[str, Any]]:
    stmt = (select(*_QUERY).outerjoin(Site, Camera.site_id == Site.id)
            .outerjoin(CameraModel, Camera.model_id == CameraModel.id).order_by(Camera.id))
    if region:
        stmt = stmt.where(Camera.region_code.startswith(region))
    stmt = stmt.where(scope.clause(Camera.region_code))
    out = []
    for r in session.execute(stmt):
        row = dict(r._mapping)
        enc = row.pop("password_enc")
        row["site"] = row["site"] or ""
        row["model"] = row["model"] or ""
        if include_secrets and box is not None:
            row["password"] = box.open(enc)
        else:  # a URL stored with credentials before the rule existed leaves without them
            for k in ("main_url", "sub_url", "onvif_url"):
                row[k] = redact_url(row[k] or "")
        out.append(row)
    return out


def export_cameras(session: Session, *, scope: Scope, fmt: ExportFormat = "csv", region: str | None = None,
                   box: CredentialBox | None = None, include_secrets: bool = False,
                   actor: str = "system") -> bytes:
    """The cameras in ``scope`` (and in ``region``'s subtree, if given) as file bytes.

    ``scope`` is the caller's; the instance's own is ``Scope.everything()``.
    Passwords are left out unless ``include_secrets`` (which needs ``box``); callers must allow
    that to admins only. Every export is recorded in the audit log.
    """
    if fmt not in get_args(ExportFormat):
        raise InputError(f"unknown export format {fmt!r}; use csv, geojson or gpkg")
    if include_secrets and box is None:
        raise InputError("exporting passwords needs the instance's credential box")
    code = check_export_region(session, region, scope) if region else None
    rows = _rows(session, code, scope, box, include_secrets)
    fields = CAMERA_FIELDS if include_secrets else CAMERA_FIELDS[:-1]
    data = {"csv": _csv, "geojson": _geojson, "gpkg": _gpkg}[fmt](rows, fields)
    record(session, actor, "cameras.export", f"export:cameras:{code or '*'}",
           region=code or common_region(scope.roots()), format=fmt, count=len(rows),
           secrets=include_secrets, scope=str(scope))
    return data


def _csv(rows: list[dict[str, Any]], fields: Sequence[str]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(fields)
    w.writerows([defuse_formula(r[f]) for f in fields] for r in rows)
    return buf.getvalue().encode("utf-8-sig")  # the BOM lets spreadsheet programs see UTF-8


def _geojson(rows: list[dict[str, Any]], fields: Sequence[str]) -> bytes:
    props = [f for f in fields if f not in ("lon", "lat")]
    features = [{"type": "Feature", "id": r["id"],
                 "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                 "properties": {f: r[f] for f in props}} for r in rows]
    doc = {"type": "FeatureCollection", "features": features}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _gpkg(rows: list[dict[str, Any]], fields: Sequence[str]) -> bytes:
    from pyogrio.raw import write

    geoms = shapely.to_wkb(shapely.points([r["lon"] for r in rows], [r["lat"] for r in rows])) \
        if rows else np.array([], dtype=object)
    names = [f for f in fields if f not in ("lon", "lat")]
    data = [np.array([r[f] for r in rows], dtype=np.float64 if f in _FLOATS else object) for f in names]
    with tempfile.TemporaryDirectory(prefix="vigil-export-") as tmp:
        path = Path(tmp) / "cameras.gpkg"
        write(str(path), geometry=geoms, field_data=data, fields=names, layer="cameras", driver="GPKG",
              geometry_type="Point", crs="EPSG:4326")
        return path.read_bytes()
