"""Bulk import of cameras: validation, GB/T 28181 ID generation, upsert with encrypted credentials."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.guard import Scope
from vigil.core.crypto import CredentialBox
from vigil.core.errors import InputError, RowError
from vigil.core.ids import centre_code_for_region, generate_device_id, parent_code, parse_camera_id
from vigil.core.models import Camera, CameraKind, CameraModel, Lifecycle, Owner, Region, Site
from vigil.registry.io_common import (
    Columns,
    Format,
    ImportReport,
    Plan,
    Progress,
    RowReader,
    Rows,
    Source,
    checked,
    finish,
    read_rows,
    reject_if_bad,
    table_of,
)
from vigil.registry.streams import validate_stream_url

__all__ = ["CAMERA_COLUMNS", "CAMERA_FIELDS", "import_cameras"]

#: The columns of a camera file, in the order export writes them.
CAMERA_FIELDS = ("id", "name", "region", "site", "lon", "lat", "height_m", "heading_deg", "tilt_deg", "model",
                 "kind", "owner", "lifecycle", "main_url", "sub_url", "onvif_url", "username", "password")
CAMERA_COLUMNS = Columns(("name", "region", "lon", "lat"),
                         tuple(c for c in CAMERA_FIELDS if c not in ("name", "region", "lon", "lat")))
DEFAULTS: dict[str, Any] = {
    "site_id": None, "height_m": 4.0, "heading_deg": 0.0, "tilt_deg": 15.0, "model_id": None,
    "kind": CameraKind.OTHER.value, "owner": Owner.PUBLIC_SECURITY.value, "lifecycle": Lifecycle.PLANNED.value,
    "main_url": "", "sub_url": "", "onvif_url": "", "username": "", "password_enc": None,
}
_STORED = (Camera.id, Camera.name, Camera.region_code, Camera.site_id, Camera.lon, Camera.lat, Camera.height_m,
           Camera.heading_deg, Camera.tilt_deg, Camera.model_id, Camera.kind, Camera.owner, Camera.lifecycle,
           Camera.main_url, Camera.sub_url, Camera.onvif_url, Camera.username, Camera.password_enc)


@dataclass
class _Lookups:
    """Everything a row is checked against, loaded once, within the importer's scope.

    ``cameras``, ``by_name`` and ``sites`` hold only objects in scope; ``hidden`` holds the IDs of
    stored cameras outside it, which a row may neither update nor take over.
    """

    regions: set[str]
    sites: dict[tuple[str, str], int]
    models: dict[str, int]
    cameras: dict[str, dict[str, Any]]
    by_name: dict[tuple[str, str], list[str]]
    hidden: set[str]
    scope: Scope

    @classmethod
    def load(cls, session: Session, scope: Scope) -> _Lookups:
        cams = {r.id: dict(r._mapping) for r in session.execute(
            select(*_STORED).where(scope.clause(Camera.region_code)))}
        by_name: dict[tuple[str, str], list[str]] = {}
        for c in cams.values():
            by_name.setdefault((c["region_code"], c["name"]), []).append(c["id"])
        sites = session.execute(select(Site.id, Site.region_code, Site.name).where(scope.clause(Site.region_code)))
        return cls(
            regions=set(session.scalars(select(Region.code))),
            sites={(r.region_code, r.name): r.id for r in sites},
            models={n: i for n, i in session.execute(select(CameraModel.name, CameraModel.id))},
            cameras=cams, by_name=by_name,
            hidden=set(session.scalars(select(Camera.id).where(scope.outside(Camera.region_code)))), scope=scope)


@cache
def _lineage(code: str) -> tuple[str, ...]:
    """``code`` and its ancestors, nearest first."""
    out = [code]
    while (p := parent_code(out[-1])) is not None:
        out.append(p)
    return tuple(out)


def _url(r: RowReader, f: str) -> str:
    u = r.text(f, max_len=500)
    try:
        return validate_stream_url(u, kind="onvif" if f == "onvif_url" else "rtsp", field=f)
    except InputError as exc:
        r.err(f, str(exc).removeprefix(f"{f}: "))
        return ""


def _check_id(r: RowReader, cid: str, region: str, lk: _Lookups) -> None:
    if cid in lk.hidden:  # stored outside the importer's scope: not theirs to update or move
        r.err("id", f"camera {cid} not found in your regions; leave id empty to register a new camera",
              hidden=True)
        return
    try:
        d = parse_camera_id(cid)
    except InputError as exc:
        r.err("id", str(exc))
        return
    if region in lk.regions and not d.belongs_to_region(region):
        r.err("id", f"ID {cid} has centre code {d.centre}, which does not belong to region {region} "
                    f"(its devices have centre code {centre_code_for_region(region)}); fix the id or the "
                    "region, or leave id empty to generate one")


def _refs(r: RowReader, v: dict[str, Any], region: str, lk: _Lookups) -> None:
    """Resolve ``site`` (by name, in the region or its ancestors) and ``model`` (by name)."""
    if r.has("site"):
        name = r.text("site")
        v["site_id"] = None
        if name and region in lk.regions and lk.scope.covers(region):  # else the region is the error
            found = [lk.sites[(c, name)] for c in _lineage(region) if (c, name) in lk.sites]
            if found:
                v["site_id"] = found[0]
            else:
                r.err("site", f"no site named {name!r} in region {region} or the regions above it")
    if r.has("model"):
        name = r.text("model", max_len=100)
        v["model_id"] = lk.models.get(name) if name else None
        if name and v["model_id"] is None:
            r.err("model", f"unknown camera model {name!r}; import models first")


def _checker(lk: _Lookups, scope: Scope, *, track: bool = True) -> Any:
    """The row check; ``track=False`` is for a second pass over a checked file: no clashes, URLs as they are."""
    ids_in_file: dict[str, int] = {}
    names_in_file: dict[str, int] = {}

    def check(r: RowReader) -> dict[str, Any] | None:
        cid = r.text("id", max_len=40)
        region = r.text("region", required=True, max_len=12)
        v: dict[str, Any] = {"id": cid, "name": r.text("name", required=True), "region_code": region}
        if region and region not in lk.regions:
            r.err("region", f"region {region} does not exist; import regions first")
        r.in_scope("region", region, scope)
        if cid:
            _check_id(r, cid, region, lk)
            if cid in ids_in_file:
                r.err("id", f"ID {cid} is already used on line {ids_in_file[cid]}")
            if track:
                ids_in_file.setdefault(cid, r.line)
        elif v["name"]:
            key = f"{region}\x00{v['name']}"  # one string, not a tuple: a million of them are kept
            if key in names_in_file:
                r.err("name", f"line {names_in_file[key]} has the same region and name and no id either; "
                              "give ids or distinct names")
            if track:
                names_in_file.setdefault(key, r.line)
        v["lon"], v["lat"] = r.number("lon", -180, 180), r.number("lat", -90, 90)
        for f, lo, hi, default, hi_open in (("height_m", 0, 500, 4.0, False), ("heading_deg", 0, 360, 0.0, True),
                                            ("tilt_deg", -90, 90, 15.0, False)):
            if r.has(f):
                v[f] = r.number(f, lo, hi, default, hi_open=hi_open)
        for f, enum, default in (("kind", CameraKind, DEFAULTS["kind"]), ("owner", Owner, DEFAULTS["owner"]),
                                 ("lifecycle", Lifecycle, DEFAULTS["lifecycle"])):
            if r.has(f):
                v[f] = r.choice(f, enum, default)
        for f in ("main_url", "sub_url", "onvif_url"):
            if r.has(f):
                v[f] = _url(r, f) if track else r.cells[f]  # the first pass found it valid (and stripped)
        if r.has("username"):
            v["username"] = r.text("username", max_len=100)
        if r.has("password"):
            v["_password"] = r.text("password", max_len=200)
        _refs(r, v, region, lk)
        return v

    check.ids_in_file = ids_in_file  # type: ignore[attr-defined]
    check.names_in_file = names_in_file  # type: ignore[attr-defined]
    return check


Key = tuple[str, str]


def _first_pass(rows: Rows, progress: Progress | None, check: Any,
                lk: _Lookups) -> tuple[set[str], dict[str, str | None]]:
    """Check every row; return the keys of bad id-less rows, and the lifecycles of rows matching stored cameras.

    Nothing else of a row is kept (the checker keeps the IDs and names in the file), so checking a
    file takes memory for its IDs and names only.
    """
    bad: set[str] = set()
    lifecycles: dict[str, str | None] = {}

    def on_bad(v: dict[str, Any] | None) -> None:
        if v is not None and not v["id"]:
            bad.add(f"{v['region_code']}\x00{v['name']}")

    for line, v in checked(rows, progress, check, on_bad):
        if v["id"]:
            _check_lifecycle(rows, line, v["id"], v.get("lifecycle"), lk)
        elif (v["region_code"], v["name"]) in lk.by_name:
            lifecycles[f"{v['region_code']}\x00{v['name']}"] = v.get("lifecycle")
    return bad, lifecycles


def _serials(lk: _Lookups, explicit: Iterable[str]) -> dict[str, int]:
    """The highest generated serial in use per centre code: stored (in scope or not) or given in the file."""
    top: dict[str, int] = {}
    for cid in [*lk.cameras, *lk.hidden, *explicit]:  # serials are unique across scopes too
        if len(cid) == 20 and cid.isdigit() and cid[10:13] == "132":
            top[cid[:8]] = max(top.get(cid[:8], 0), int(cid[14:20]))
    return top


def _id_for(key: Key, lk: _Lookups, explicit: dict[str, int], top: dict[str, int]) -> tuple[str, str, str]:
    """The ID of an id-less row, as ``(id, "", "")``, else ``("", field, reason)``.

    It is the one stored camera with the row's region and name, or the next serial (counted in ``top``).
    """
    region, name = key
    same = lk.by_name.get(key, [])
    if len(same) > 1:
        return "", "name", f"{len(same)} stored cameras in region {region} are named {name!r}; give the id to say which"
    if same and same[0] in explicit:
        return "", "id", (f"is empty, so this row matches camera {same[0]} by region and name, but line "
                          f"{explicit[same[0]]} also sets that camera")
    if same:
        return same[0], "", ""
    centre = centre_code_for_region(region)
    serial = top.get(centre, 0) + 1
    if serial > 999_999:
        return "", "id", f"no free serial number left under centre code {centre}"
    top[centre] = serial
    return generate_device_id(region, serial).value, "", ""


def _resolve_ids(rows: Rows, idless: dict[str, int], lk: _Lookups, explicit: dict[str, int],
                 lifecycles: dict[str, str | None], skip: set[str] | frozenset[str] = frozenset()) -> int:
    """Check that every id-less row (``key -> line``, in line order; not those in ``skip``) gets an ID.

    Return how many IDs are new. The IDs are not kept: the second pass gives them again, in the same
    order, from the same serials. Keys are ``region NUL name`` (one string per row: less memory).
    """
    top = _serials(lk, explicit)
    generated = 0
    for key, line in idless.items():
        if key in skip:
            continue
        region, _, name = key.partition("\x00")
        cid, f, reason = _id_for((region, name), lk, explicit, top)
        if reason:
            rows.errors.append(RowError(line, f, reason))
        elif (region, name) in lk.by_name:
            _check_lifecycle(rows, line, cid, lifecycles.get(key), lk)
        else:
            generated += 1
    return generated


def _check_lifecycle(rows: Rows, line: int, cid: str, new: str | None, lk: _Lookups) -> None:
    """The lifecycle only moves forward: nothing returns to planned, and retired is final."""
    old = lk.cameras.get(cid)
    if old is None or new is None or new == old["lifecycle"]:
        return
    if old["lifecycle"] == Lifecycle.RETIRED or new == Lifecycle.PLANNED:
        rows.errors.append(RowError(line, "lifecycle", f"camera {cid} cannot go from {old['lifecycle']} "
                                    f"to {new} (nothing returns to planned, and retired is final)"))


def _password(v: dict[str, Any], old: dict[str, Any] | None, box: CredentialBox) -> None:
    """Replace the clear ``_password`` by ``password_enc``, sealing only when it changed."""
    if "_password" not in v:
        return
    pw = v.pop("_password")
    if old is not None:
        try:
            if box.open(old["password_enc"]) == pw:
                return
        except InputError:
            pass  # sealed with another key: replace it
    v["password_enc"] = box.seal(pw)


def import_cameras(session: Session, rows_or_path: Source, *, box: CredentialBox, actor: str,
                   scope: Scope, dry_run: bool = False, progress: Progress | None = None,
                   fmt: Format = "auto", name: str = "") -> ImportReport:
    """Upsert cameras from CSV or a GeoJSON FeatureCollection of points; see docs/formats.md.

    Every row is checked before anything is written; any bad row rejects the whole file
    with :class:`~vigil.core.errors.ImportRejected` listing every problem. Rows may only touch
    cameras, regions and sites inside ``scope`` (the instance's own is ``Scope.everything()``):
    an ID stored outside it, or a region outside it, is a row error, as if it did not exist.
    """
    t0 = time.perf_counter()
    rows = read_rows(rows_or_path, CAMERA_COLUMNS, geo="point", fmt=fmt, name=name)
    lk = _Lookups.load(session, scope)
    check = _checker(lk, scope)
    bad, lifecycles = _first_pass(rows, progress, check, lk)
    generated = _resolve_ids(rows, check.names_in_file, lk, check.ids_in_file, lifecycles, skip=bad)
    top = _serials(lk, check.ids_in_file)
    del check, bad, lifecycles
    reject_if_bad(rows)
    # second pass: the file is read again (every row is good now), given the same IDs, and written in batches
    plan, regions, recheck = Plan(), set(), _checker(lk, scope, track=False)
    for line, cells in rows.items:
        v = recheck(RowReader(line, cells, []))
        if not v["id"]:
            v["id"] = _id_for((v["region_code"], v["name"]), lk, {}, top)[0]
        old = lk.cameras.get(v["id"])
        _password(v, old, box)
        plan.merge(old, v, DEFAULTS)
        regions.add(v["region_code"])
        plan.flush(session, table_of(Camera), "id", dry_run=dry_run)
    plan.flush(session, table_of(Camera), "id", dry_run=dry_run, at=1)
    return finish(session, "cameras", rows, plan, actor=actor, dry_run=dry_run, t0=t0, generated=generated,
                  regions=regions)
