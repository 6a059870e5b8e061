"""Camera registry operations: search, create, update, retire, delete, and rollups over the tree."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, RowMapping, Select, String, bindparam, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from vigil.access.audit import record
from vigil.access.guard import check_permission, ensure_visible, get_in_scope
from vigil.access.users import Principal
from vigil.core.crypto import CredentialBox
from vigil.core.db import check_version, serialize
from vigil.core.errors import AccessDenied, ConflictError, InputError, NotFoundError
from vigil.core.ids import DeviceId, centre_code_for_region, generate_device_id
from vigil.core.models import CAMERA_ID_PARTS, Camera, CameraModel, Lifecycle, Region, Site
from vigil.core.regions import in_subtree
from vigil.registry.schemas import CameraIn, CameraPatch
from vigil.registry.service import _model_id, _page, _scope_roots, _shown, get_region

__all__ = ["LIST_COLUMNS", "CameraChange", "CameraQuery", "NewCamera", "apply_camera_change", "camera_detail",
           "camera_points", "changed_model", "check_camera_change", "check_new_camera", "create_camera",
           "delete_camera", "get_camera", "list_cameras", "next_serial", "rollup", "store_camera", "update_camera",
           "written_detail"]

_LIFECYCLE_NEXT: dict[str, set[str]] = {
    Lifecycle.PLANNED: {Lifecycle.INSTALLED, Lifecycle.IN_SERVICE, Lifecycle.RETIRED},
    Lifecycle.INSTALLED: {Lifecycle.IN_SERVICE, Lifecycle.RETIRED},
    Lifecycle.IN_SERVICE: {Lifecycle.INSTALLED, Lifecycle.RETIRED},
    Lifecycle.RETIRED: set(),
}
_SORTABLE: dict[str, InstrumentedAttribute[Any]] = {
    "id": Camera.id, "name": Camera.name, "region": Camera.region_code, "kind": Camera.kind,
    "lifecycle": Camera.lifecycle, "updated": Camera.updated_at}

#: a camera as a list shows it (the fields of ``CameraPublic`` but its status), its model's name as ``model``
LIST_COLUMNS = (Camera.id, Camera.name, Camera.region_code, Camera.site_id, Camera.lon, Camera.lat, Camera.height_m,
                Camera.heading_deg, Camera.tilt_deg, Camera.kind, Camera.owner, Camera.lifecycle,
                CameraModel.name.label("model"))
#: and as its detail view shows it (stream URLs not yet redacted, whether a password is stored), with its version
_DETAIL_COLUMNS = (*LIST_COLUMNS, Camera.main_url, Camera.sub_url, Camera.onvif_url, Camera.username,
                   Camera.password_enc.is_not(None).label("has_password"), Camera.allow_basic_auth,
                   Camera.created_at, Camera.updated_at, Camera.version)

# Built once: a statement's cache key is computed once per object, and building this one cost as much as running it.
_DETAIL = (select(*_DETAIL_COLUMNS).outerjoin(CameraModel, CameraModel.id == Camera.model_id)
           .where(Camera.id == bindparam("camera_id")))
_DETAIL_KEYS = tuple(_DETAIL.selected_columns.keys())


@dataclass(frozen=True, slots=True)
class CameraQuery:
    """Filters for a camera search; empty fields do not filter."""

    region: str | None = None
    site: int | None = None
    kind: str | None = None
    owner: str | None = None
    lifecycle: str | None = None
    q: str = ""
    bbox: tuple[float, float, float, float] | None = None
    sort: str = "id"
    limit: int = 50
    offset: int = 0
    ids: tuple[str, ...] = field(default=())


def _camera_stmt(p: Principal, f: CameraQuery) -> Select[Any]:
    stmt = select(Camera).where(p.scope.clause(Camera.region_code))
    if f.region:
        stmt = stmt.where(in_subtree(Camera.region_code, f.region))
    for col, val in ((Camera.site_id, f.site), (Camera.kind, f.kind), (Camera.owner, f.owner),
                     (Camera.lifecycle, f.lifecycle)):
        if val is not None and val != "":
            stmt = stmt.where(col == val)
    if f.q:
        stmt = stmt.where(or_(Camera.name.contains(f.q), Camera.id.startswith(f.q)))
    if f.bbox:
        x0, y0, x1, y1 = f.bbox
        stmt = stmt.where(Camera.lon.between(x0, x1), Camera.lat.between(y0, y1))
    if f.ids:
        stmt = stmt.where(Camera.id.in_(f.ids))
    desc = f.sort.startswith("-")
    sort_col = _SORTABLE.get(f.sort.lstrip("-"))
    if sort_col is None:
        raise InputError(f"cannot sort by {f.sort!r}; use one of {', '.join(sorted(_SORTABLE))}")
    return stmt.order_by(sort_col.desc() if desc else sort_col, Camera.id)


def list_cameras(session: Session, p: Principal, f: CameraQuery) -> tuple[list[RowMapping], int]:
    """One page of cameras in scope as rows of :data:`LIST_COLUMNS`, and the total matching.

    Core rows, not ORM objects: a page decodes only the columns a list shows. Both statements run on the
    session's connection (the ORM's execution path cost as much as SQLite's work), and the total counts the
    cameras alone: the model's name joined, and the order, changed nothing in it and cost four times as much.
    """
    _page(f.limit, f.offset)
    if f.region:
        get_region(session, p, f.region)
    matching = _camera_stmt(p, f)
    page = (matching.with_only_columns(*LIST_COLUMNS).outerjoin(CameraModel, CameraModel.id == Camera.model_id)
            .limit(f.limit).offset(f.offset))
    conn = session.connection()
    total = conn.execute(matching.with_only_columns(func.count()).order_by(None)).scalar_one()
    return list(conn.execute(page).mappings()), total


def camera_points(session: Session, p: Principal, f: CameraQuery, limit: int) -> list[Any]:
    """Id, name, kind, lifecycle, position and heading of up to ``limit`` cameras in scope (for maps)."""
    if f.region:
        get_region(session, p, f.region)
    stmt = _camera_stmt(p, f).with_only_columns(Camera.id, Camera.name, Camera.kind, Camera.lifecycle, Camera.lon,
                                                Camera.lat, Camera.heading_deg)
    return list(session.execute(stmt.limit(limit)).all())


def get_camera(session: Session, p: Principal, camera_id: str) -> Camera:
    """One camera in scope."""
    return get_in_scope(session, Camera, camera_id, p, what=f"camera {camera_id}")


def camera_detail(session: Session, p: Principal, camera_id: str) -> Row[*tuple[Any, ...]]:
    """One camera in scope as the columns of its detail view, in one Core statement (404 as :func:`get_camera`)."""
    what = f"camera {camera_id}"
    row: Row[*tuple[Any, ...]] | None = session.execute(_DETAIL, {"camera_id": camera_id}).first()
    if row is None:
        raise NotFoundError(f"{what} not found")
    ensure_visible(p, row.region_code, what)  # the guard's rule and message: hidden reads as missing
    return row


# Built once, as their cache keys (see _DETAIL): the statements a camera's write transaction runs.
_SERIAL = (select(func.max(CAMERA_ID_PARTS[2]))
           .where(CAMERA_ID_PARTS[0] == bindparam("centre", type_=String),
                  CAMERA_ID_PARTS[1] == bindparam("type_code", type_=String)))
_REGION_STORED = select(Region.code).where(Region.code == bindparam("code"))
_CAMERA_STORED = select(Camera.id).where(Camera.id == bindparam("camera_id"))


def next_serial(session: Session, region_code: str, type_code: int = 132) -> int:
    """The next free serial number for devices of ``type_code`` under the region's centre code.

    The highest serial stored for this centre and type is read from the index on the ID's parts
    (:data:`~vigil.core.models.CAMERA_ID_PARTS`); scanning every ID under the centre for its type code instead
    was half of a camera create's time at 2,000 cameras.
    Serialised per centre code until the caller's transaction ends, so two concurrent creates
    never draw the same serial.
    """
    prefix = centre_code_for_region(region_code)
    serialize(session, f"vigil.camera.serial:{prefix}")
    if session.new:  # cameras added but not yet written count too (a Core statement does not autoflush)
        session.flush()
    top = session.connection().execute(_SERIAL, {"centre": prefix, "type_code": f"{type_code:03d}"}).scalar()
    return int(top or 0) + 1


def _check_site(session: Session, p: Principal, site_id: int | None, region_code: str) -> None:
    if site_id is None:
        return
    s = get_in_scope(session, Site, site_id, p, what=f"site {site_id}")
    if not region_code.startswith(s.region_code) and not s.region_code.startswith(region_code):
        raise InputError(f"site {site_id} is in region {s.region_code}, not in {region_code}")


@dataclass(frozen=True, slots=True)
class NewCamera:
    """A camera to register, checked by :func:`check_new_camera`: its column values (``id`` None: generated)."""

    id: str | None
    region_code: str
    values: dict[str, Any]
    model: str | None = None


def check_new_camera(session: Session, p: Principal, data: CameraIn, box: CredentialBox) -> NewCamera:
    """Every check of a create that only reads, in the order :func:`create_camera` answers them.

    ``session`` may be a read session: nothing here needs the write lock. :func:`store_camera`
    repeats, in the write transaction, what another writer could undo in between.
    """
    if not p.can("registry.write"):
        check_permission(p, "registry.write_planned")
        if data.lifecycle != Lifecycle.PLANNED:
            raise InputError("planners may only add cameras in lifecycle 'planned'")
    get_in_scope(session, Region, data.region_code, p, what=f"region {data.region_code}")
    cam_id = None
    if data.id:
        did = DeviceId.parse(data.id)
        if not did.belongs_to_region(data.region_code):
            raise InputError(f"camera ID {did} has centre code {did.centre}, but region {data.region_code} "
                             f"needs centre code {centre_code_for_region(data.region_code)}")
        _refuse_taken(session, did.value)
        cam_id = did.value
    _check_site(session, p, data.site_id, data.region_code)
    values = data.model_dump(exclude={"id", "model", "password"}, mode="json")
    values |= {"model_id": _model_id(session, data.model), "password_enc": box.seal(data.password)}
    return NewCamera(cam_id, data.region_code, values, data.model)


def _refuse_taken(session: Session, cam_id: str) -> None:
    if session.connection().execute(_CAMERA_STORED, {"camera_id": cam_id}).first() is not None:
        raise ConflictError(f"camera {cam_id} already exists")


def store_camera(session: Session, p: Principal, new: NewCamera) -> Camera:
    """Insert a camera checked by :func:`check_new_camera`, with its audit entry, in ``session``'s transaction.

    Only what must be atomic with the insert runs here (on SQLite, inside the write lock): the
    region still stored, the ID still free or the next serial, the insert, the audit entry. The
    other checks hold without repeating them: scope, permissions and ID rules depend on the caller
    and the request alone; a site never changes region; a site or camera model deleted in between
    fails the insert on its foreign key (409) rather than storing a dangling reference.
    """
    cam = Camera(**new.values)  # built before the first statement, so before the write lock
    # Core statements (no ORM execution, nothing pending to autoflush yet): a third of session.scalar's cost
    if session.connection().execute(_REGION_STORED, {"code": new.region_code}).first() is None:  # deleted since
        raise NotFoundError(f"region {new.region_code} not found")
    if new.id is not None:
        _refuse_taken(session, new.id)
        cam.id = new.id
    else:
        cam.id = generate_device_id(new.region_code, next_serial(session, new.region_code)).value
    session.add(cam)
    session.flush()
    record(session, p.name, "camera.create", f"camera:{cam.id}", region=new.region_code,
           name=new.values["name"])
    return cam


def create_camera(session: Session, p: Principal, data: CameraIn, box: CredentialBox) -> Camera:
    """Register a camera; its ID must belong to its region (or is generated)."""
    return store_camera(session, p, check_new_camera(session, p, data, box))


def written_detail(cam: Camera, model: str | None) -> dict[str, Any]:
    """The detail row (the columns of :func:`camera_detail`) of a camera this transaction just wrote and flushed.

    Built from the written object instead of read again: the answer is the version this write
    produced, whatever another writer stores after its commit. ``model`` is its model's name.
    """
    return {k: model if k == "model" else cam.password_enc is not None if k == "has_password" else getattr(cam, k)
            for k in _DETAIL_KEYS}


_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class CameraChange:
    """A camera patch checked by :func:`check_camera_change`: column values to set and what the audit names.

    ``model`` is the new model's name (``_UNSET``: unchanged) and ``model_id`` its id, or None with
    ``model_error`` when no model has that name (raised where :func:`update_camera` checked the model).
    """

    planned_only: bool
    values: dict[str, Any]
    fields: list[str]
    lifecycle: str | None = None
    site_id: Any = _UNSET
    model: Any = _UNSET
    model_id: int | None = None
    model_error: InputError | None = None


def check_camera_change(session: Session, p: Principal, patch: CameraPatch, box: CredentialBox) -> CameraChange:
    """The checks and lookups of a patch that need no camera: permission, the model's id, the password sealed.

    ``session`` may be a read session. A missing model is kept as an error for
    :func:`apply_camera_change` to raise in its place among the camera's own checks (404, 412, ...).
    """
    planned_only = not p.can("registry.write")
    if planned_only:
        check_permission(p, "registry.write_planned")  # permission first: 403 whatever the camera
    changes = patch.model_dump(exclude_unset=True, mode="json")
    model, model_id, model_error = changes.pop("model", _UNSET), None, None
    if model is not _UNSET:
        try:
            model_id = _model_id(session, model)
        except InputError as exc:
            model_error = exc
    if "password" in changes:
        changes["password_enc"] = box.seal(changes.pop("password") or "")
    fields = sorted("password" if k == "password_enc" else k for k in changes)  # as before: a model change unnamed
    return CameraChange(planned_only, changes, fields, changes.get("lifecycle"), changes.get("site_id", _UNSET),
                        model, model_id, model_error)


def apply_camera_change(session: Session, p: Principal, camera_id: str, change: CameraChange, *,
                        versions: Collection[int] | None = None) -> Camera:
    """Apply a checked patch in ``session``'s transaction: the camera's own checks, the update, the audit entry.

    What depends on the stored camera (scope, version, lifecycle, site) is checked here, on the row
    this transaction reads; a model deleted since its lookup fails the update on its foreign key (409).
    """
    cam = get_camera(session, p, camera_id)
    check_version(cam, versions, f"camera {camera_id}")
    if change.planned_only and (cam.lifecycle != Lifecycle.PLANNED
                                or (change.lifecycle and change.lifecycle != Lifecycle.PLANNED)):
        raise AccessDenied("planners may only change planned cameras")
    new_life = change.lifecycle or cam.lifecycle
    if new_life != cam.lifecycle and new_life not in _LIFECYCLE_NEXT[Lifecycle(cam.lifecycle)]:
        raise ConflictError(f"camera {camera_id} cannot go from {cam.lifecycle} to {new_life}")
    if change.site_id is not _UNSET:
        _check_site(session, p, change.site_id, cam.region_code)
    if change.model_error is not None:
        raise change.model_error
    if change.model is not _UNSET:
        cam.model_id = change.model_id
    for k, v in change.values.items():
        setattr(cam, k, v)
    record(session, p.name, "camera.update", f"camera:{camera_id}", region=cam.region_code, fields=change.fields)
    return cam


def changed_model(cam: Camera, change: CameraChange) -> str | None:
    """The name of the model of ``cam`` once ``change`` is applied."""
    if change.model is not _UNSET:
        return str(change.model) if change.model_id is not None else None
    return cam.model.name if cam.model is not None else None


def update_camera(session: Session, p: Principal, camera_id: str, patch: CameraPatch,
                  box: CredentialBox, *, versions: Collection[int] | None = None) -> Camera:
    """Change a camera's fields; lifecycle moves only along planned → installed → in service → retired.

    With ``versions``, only a camera still at one of them changes (412 otherwise).
    """
    return apply_camera_change(session, p, camera_id, check_camera_change(session, p, patch, box), versions=versions)


def delete_camera(session: Session, p: Principal, camera_id: str) -> None:
    """Delete a camera record (retire it instead to keep its history)."""
    check_permission(p, "registry.write")
    cam = get_camera(session, p, camera_id)
    session.delete(cam)
    record(session, p.name, "camera.delete", f"camera:{camera_id}", region=cam.region_code)


def rollup(session: Session, p: Principal, region: str | None = None) -> dict[str, Any]:
    """Camera counts for ``region`` and each child, by kind, owner and lifecycle (one grouped query)."""
    scope = p.scope
    if region is None:
        roots = _scope_roots(session, scope)
        if len(roots) != 1:
            return {"regions": [rollup(session, p, s) for s in roots]}
        region = roots[0]
    reg = get_region(session, p, region)
    children = session.execute(select(Region.code, Region.name, Region.level)
                               .where(Region.parent_code == region).order_by(Region.code)).all()
    child_len = len(children[0][0]) if children else None
    key = func.substr(Camera.region_code, 1, child_len) if child_len else Camera.region_code
    rows = session.execute(
        select(key, Camera.kind, Camera.owner, Camera.lifecycle, func.count())
        .where(in_subtree(Camera.region_code, region), scope.clause(Camera.region_code))
        .group_by(key, Camera.kind, Camera.owner, Camera.lifecycle)).all()
    per: dict[str, dict[str, Any]] = {}
    total = _blank()
    for k, kind, owner, life, n in rows:
        for acc in (total, per.setdefault(k if child_len else region, _blank())):
            _add(acc, kind, owner, life, n)
    kids = [{"code": c, "name": nm, "level": lv, **per.get(c, _blank())}
            for c, nm, lv in children if _shown(scope, c)]
    return {"region": {"code": reg.code, "name": reg.name, "level": reg.level}, **total, "children": kids}


def _blank() -> dict[str, Any]:
    return {"total": 0, "by_kind": {}, "by_owner": {}, "by_lifecycle": {}}


def _add(acc: dict[str, Any], kind: str, owner: str, life: str, n: int) -> None:
    acc["total"] += n
    for name, val in (("by_kind", kind), ("by_owner", owner), ("by_lifecycle", life)):
        acc[name][val] = acc[name].get(val, 0) + n
