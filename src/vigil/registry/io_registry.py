"""Bulk import of regions, sites and camera models (see docs/formats.md for the columns)."""

from __future__ import annotations

import json
import time
from typing import Any

from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.guard import Scope, check_shared_edit
from vigil.core.errors import AccessDenied, InputError, RowError
from vigil.core.ids import RegionLevel, level_of_code, parent_code
from vigil.core.models import CameraModel, FormFactor, Region, Site, SiteKind
from vigil.registry.geometry import parse_polygon, validate_polygon
from vigil.registry.io_common import (
    Columns,
    Format,
    ImportReport,
    Plan,
    Progress,
    RowReader,
    Source,
    check_rows,
    finish,
    read_rows,
    reject_if_bad,
    table_of,
    write,
)
from vigil.registry.service import model_users

__all__ = ["MODEL_COLUMNS", "REGION_COLUMNS", "SITE_COLUMNS", "import_models", "import_regions", "import_sites"]

REGION_COLUMNS = Columns(("code", "name"), ("level", "parent", "lon", "lat"))
SITE_COLUMNS = Columns(("name", "region"), ("kind", "protection_class", "sensitive", "lon", "lat", "geometry"))
MODEL_COLUMNS = Columns(("name", "h_res_px", "v_res_px", "hfov_deg", "vfov_deg"),
                        ("vendor", "ir_range_m", "form_factor", "unit_cost", "onvif"))

_LEVEL_NAMES = {"prefecture": 1, "city": 2, "county": 2, "town": 3, "street": 3, "township": 3,
                "village": 4, "community": 4}


def _position(r: RowReader, values: dict[str, Any]) -> None:
    if r.has("lon") or r.has("lat"):
        lon = r.number("lon", -180, 180, default=float("nan")) if r.cells.get("lon") else None
        lat = r.number("lat", -90, 90, default=float("nan")) if r.cells.get("lat") else None
        if (lon is None) != (lat is None):
            r.err("lat" if lat is None else "lon", "lon and lat must be given together")
        values["lon"], values["lat"] = lon, lat


# ----------------------------------------------------------------------------- regions
def _check_level(r: RowReader, code: str) -> int | None:
    try:
        level = int(level_of_code(code))
    except InputError as exc:
        r.err("code", str(exc))
        return None
    given = r.cells.get("level", "").lower()
    if given:
        want = _LEVEL_NAMES.get(given) or (int(given) if given.isdigit() else None)
        if want not in (1, 2, 3, 4):
            r.err("level", f"{given!r} is not 1-4 or one of prefecture, city, town, village")
        elif want != level:
            r.err("level", f"{given} does not match code {code}, which has {len(code)} digits "
                           f"(level {level}, {RegionLevel(level).name.lower()})")
    return level


def _outline(r: RowReader, values: dict[str, Any]) -> None:
    """A GeoJSON feature's geometry is the region's outline, checked by the site rule (a CSV has no outline)."""
    if r.cells.get("geometry"):
        try:
            values["outline"] = validate_polygon(json.loads(r.cells["geometry"]))
        except InputError as exc:
            r.err("geometry", str(exc))


def _stored_outlines(session: Session, codes: list[str]) -> dict[str, Any]:
    """The outlines stored for ``codes`` (read only for the regions a file outlines: an outline may be large)."""
    out: dict[str, Any] = {}
    for i in range(0, len(codes), 500):
        out.update(session.execute(select(Region.code, Region.outline).where(Region.code.in_(codes[i:i + 500]))).all())
    return out


def import_regions(session: Session, rows_or_path: Source, *, actor: str, scope: Scope, dry_run: bool = False,
                   progress: Progress | None = None, fmt: Format = "auto", name: str = "") -> ImportReport:
    """Upsert regions from CSV (``code,name,level,parent[,lon,lat]``) or GeoJSON; rows may come in any order.

    A GeoJSON feature has the same properties and the region's outline as its geometry (a (Multi)Polygon, or null
    to leave the stored outline as it is). Only regions inside ``scope`` may be created or changed (the instance's
    own is ``Scope.everything()``).
    """
    t0 = time.perf_counter()
    rows = read_rows(rows_or_path, REGION_COLUMNS, geo="polygon", fmt=fmt, name=name)
    existing = {r.code: {"code": r.code, "name": r.name, "level": r.level, "parent_code": r.parent_code,
                         "lon": r.lon, "lat": r.lat}
                for r in session.execute(select(Region.code, Region.name, Region.level, Region.parent_code,
                                                Region.lon, Region.lat))}
    in_file: dict[str, int] = {}

    def check(r: RowReader) -> dict[str, Any] | None:
        code = r.text("code", required=True, max_len=12)
        values: dict[str, Any] = {"code": code, "name": r.text("name", required=True, max_len=120)}
        level = _check_level(r, code) if code else None
        if level is None:
            return None
        if code in in_file:
            r.err("code", f"region {code} is already on line {in_file[code]}")
        in_file.setdefault(code, r.line)
        r.in_scope("code", code, scope)
        values["level"] = level
        implied = parent_code(code)
        given = r.cells.get("parent", "")
        if given and given != implied:
            r.err("parent", f"{given} is not the parent of {code}; by its code the parent is {implied or 'none'}")
        elif not given and implied and not (code in existing and existing[code]["parent_code"] is None):
            r.err("parent", f"is required: region {code} belongs under {implied}")
        values["parent_code"] = implied if given else None
        _position(r, values)
        _outline(r, values)
        return values

    good = check_rows(rows, progress, check)
    for line, v in good:
        p = v["parent_code"]
        if p and p not in existing and p not in in_file:
            rows.errors.append(RowError(line, "parent", f"region {p} does not exist in the database or the file"))
    reject_if_bad(rows)
    # a file that outlines some regions: every stored row it updates keeps its outline unless the row gives one
    outlined = _stored_outlines(session, [v["code"] for _, v in good if v["code"] in existing]) \
        if any("outline" in v for _, v in good) else None
    plan = Plan()
    for _, v in sorted(good, key=lambda lv: lv[1]["level"]):  # parents before children
        old = existing.get(v["code"])
        if old is not None and outlined is not None:
            old = old | {"outline": outlined.get(v["code"])}
        plan.merge(old, v, {"lon": None, "lat": None, "outline": None})
    if not dry_run:
        write(session, table_of(Region), "code", plan, progress)
    return finish(session, "regions", rows, plan, actor=actor, dry_run=dry_run, t0=t0,
                  regions=[v["code"] for _, v in good])


# ----------------------------------------------------------------------------- sites
def import_sites(session: Session, rows_or_path: Source, *, actor: str, scope: Scope, dry_run: bool = False,
                 progress: Progress | None = None, fmt: Format = "auto", name: str = "") -> ImportReport:
    """Upsert sites, keyed by (region, name), from CSV or a GeoJSON FeatureCollection of polygons.

    Only sites in regions inside ``scope`` may be created or changed.
    """
    t0 = time.perf_counter()
    rows = read_rows(rows_or_path, SITE_COLUMNS, geo="polygon", fmt=fmt, name=name)
    regions = set(session.scalars(select(Region.code)))
    cols = (Site.id, Site.name, Site.region_code, Site.kind, Site.protection_class, Site.sensitive,
            Site.geometry, Site.lon, Site.lat)
    existing = {(r.region_code, r.name): dict(r._mapping)
                for r in session.execute(select(*cols).where(scope.clause(Site.region_code)))}
    in_file: dict[tuple[str, str], int] = {}

    def check(r: RowReader) -> dict[str, Any] | None:
        v: dict[str, Any] = {"name": r.text("name", required=True), "region_code": r.text("region", required=True)}
        key = (v["region_code"], v["name"])
        if v["region_code"] and v["region_code"] not in regions:
            r.err("region", f"region {v['region_code']} does not exist; import regions first")
        r.in_scope("region", v["region_code"], scope)
        if key in in_file:
            r.err("name", f"site {v['name']!r} in region {key[0]} is already on line {in_file[key]}")
        in_file.setdefault(key, r.line)
        if r.has("kind"):
            v["kind"] = r.choice("kind", SiteKind, SiteKind.OTHER.value)
        if r.has("protection_class"):
            v["protection_class"] = r.number("protection_class", 1, 3, default=3, integer=True)
        if r.has("sensitive"):
            v["sensitive"] = r.flag("sensitive", False)
        if r.has("geometry"):
            v["geometry"] = None
            if r.cells["geometry"]:
                try:
                    v["geometry"] = parse_polygon(r.cells["geometry"])
                except InputError as exc:
                    r.err("geometry", str(exc))
        _position(r, v)
        if v.get("lon") is None and v.get("geometry"):
            pt = shape(v["geometry"]).representative_point()
            v["lon"], v["lat"] = pt.x, pt.y
        return v

    good = check_rows(rows, progress, check)
    reject_if_bad(rows)
    plan = Plan()
    defaults = {"kind": SiteKind.OTHER.value, "protection_class": 3, "sensitive": False, "geometry": None,
                "lon": None, "lat": None}
    for _, v in good:
        plan.merge(existing.get((v["region_code"], v["name"])), v, defaults)
    if not dry_run:
        write(session, table_of(Site), "id", plan, progress)
    return finish(session, "sites", rows, plan, actor=actor, dry_run=dry_run, t0=t0,
                  regions=[v["region_code"] for _, v in good])


# ----------------------------------------------------------------------------- camera models
def import_models(session: Session, rows_or_path: Source, *, actor: str, scope: Scope, dry_run: bool = False,
                  progress: Progress | None = None, fmt: Format = "auto", name: str = "") -> ImportReport:
    """Upsert camera models, keyed by name, from CSV.

    Models are shared: a row may change a stored model only if ``scope`` covers every camera using
    it (the guard's :func:`~vigil.access.guard.check_shared_edit`); new models may always be added.
    """
    t0 = time.perf_counter()
    rows = read_rows(rows_or_path, MODEL_COLUMNS, fmt=fmt, name=name)
    existing = {m.name: {c.key: getattr(m, c.key) for c in CameraModel.__table__.columns}
                for m in session.scalars(select(CameraModel))}
    in_file: dict[str, int] = {}

    def check(r: RowReader) -> dict[str, Any] | None:
        v: dict[str, Any] = {"name": r.text("name", required=True, max_len=100)}
        if v["name"] in in_file:
            r.err("name", f"model {v['name']!r} is already on line {in_file[v['name']]}")
        in_file.setdefault(v["name"], r.line)
        v["h_res_px"] = r.number("h_res_px", 1, 20000, integer=True)
        v["v_res_px"] = r.number("v_res_px", 1, 20000, integer=True)
        for f, hi in (("hfov_deg", 360), ("vfov_deg", 180)):
            v[f] = r.number(f, 0, hi)
            if v[f] == 0:
                r.err(f, "must be greater than 0")
        if r.has("vendor"):
            v["vendor"] = r.text("vendor", max_len=100)
        if r.has("ir_range_m"):
            v["ir_range_m"] = r.number("ir_range_m", 0, 10000, default=0.0)
        if r.has("form_factor"):
            v["form_factor"] = r.choice("form_factor", FormFactor, FormFactor.BULLET.value)
        if r.has("unit_cost"):
            v["unit_cost"] = r.number("unit_cost", 0, 1e9, default=0.0)
        if r.has("onvif"):
            v["onvif"] = r.flag("onvif", True)
        return v

    good = check_rows(rows, progress, check)
    _check_shared(session, rows.errors, good, existing, scope)
    reject_if_bad(rows)
    plan = Plan()
    defaults = {"vendor": "", "ir_range_m": 0.0, "form_factor": FormFactor.BULLET.value, "unit_cost": 0.0,
                "onvif": True}
    for _, v in good:
        plan.merge(existing.get(v["name"]), v, defaults)
    if not dry_run:
        write(session, table_of(CameraModel), "id", plan, progress)
    return finish(session, "models", rows, plan, actor=actor, dry_run=dry_run, t0=t0)


def _check_shared(session: Session, errors: list[RowError], good: list[tuple[int, dict[str, Any]]],
                  existing: dict[str, dict[str, Any]], scope: Scope) -> None:
    """A row error for each row that would change a model some camera outside ``scope`` uses."""
    users: dict[int, set[str]] | None = None
    for line, v in good:
        old = existing.get(v["name"])
        if old is None or all(old.get(k) == val for k, val in v.items()):
            continue
        users = model_users(session) if users is None else users
        try:
            check_shared_edit(scope, users.get(old["id"], set()), f"camera model {v['name']!r}")
        except AccessDenied as exc:
            errors.append(RowError(line, "name", str(exc), denied=True))
