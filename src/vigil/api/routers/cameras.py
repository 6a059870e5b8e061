"""Cameras: search, detail, create, update, delete, and a GeoJSON layer for the map."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import RowMapping, bindparam, select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import check_permission
from vigil.access.users import Principal
from vigil.api.answers import model_response
from vigil.api.deps import CallerDep, CurrentPrincipal, ReadSessionDep, SessionDep, VigilDep
from vigil.api.params import INT64_MAX, Offset
from vigil.api.public.registry import CameraMapPublic
from vigil.api.versioning import IfMatch, etag, expected_versions
from vigil.core.errors import InputError
from vigil.core.models import Camera
from vigil.health.models import CameraStatus
from vigil.registry import cameras as svc
from vigil.registry.schemas import CameraDetailPublic, CameraIn, CameraPatch, CameraPublic, Page
from vigil.registry.streams import redact_url

router = APIRouter()

#: a camera's status as its public view shows it: of a list of cameras, and of one (an expanding IN is compiled
#: again on every call, a tenth of a camera read's time); built once, as their cache keys
_STATUS_COLUMNS = (CameraStatus.camera_id, CameraStatus.state, CameraStatus.reason, CameraStatus.since,
                   CameraStatus.faults)
_STATUS = select(*_STATUS_COLUMNS).where(CameraStatus.camera_id.in_(bindparam("ids", expanding=True)))
_STATUS_ONE = select(*_STATUS_COLUMNS).where(CameraStatus.camera_id == bindparam("id"))
_URLS = ("main_url", "sub_url", "onvif_url")


def _statuses(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The statuses of ``ids`` (Core rows on the session's connection: the ORM's execution path cost as much)."""
    if not ids:
        return {}
    conn = session.connection()
    rows = (conn.execute(_STATUS_ONE, {"id": ids[0]}) if len(ids) == 1 else conn.execute(_STATUS, {"ids": ids})).mappings()
    return {r["camera_id"]: {"state": r["state"], "reason": r["reason"], "since": r["since"], "faults": r["faults"]}
            for r in rows}


def camera_json(row: RowMapping | dict[str, Any], st: dict[str, Any] | None) -> dict[str, Any]:
    """Public shape of a camera row (:data:`vigil.registry.cameras.LIST_COLUMNS`, or a detail row).

    Stream URLs are in the detail rows only and are answered redacted; passwords never leave.
    """
    out = {k: redact_url(v) if k in _URLS else v for k, v in row.items() if k != "version"}
    out["status"] = st
    return out


def _detail(session: Session, p: Principal, camera_id: str, *, status: bool = True) -> tuple[dict[str, Any], str]:
    """A camera's detail answer and its ETag."""
    row = svc.camera_detail(session, p, camera_id)
    st = _statuses(session, [camera_id]).get(camera_id) if status else None
    return camera_json(row._mapping, st), etag(row)


def _bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    if not bbox:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
    except ValueError as exc:
        raise InputError("bbox must be minlon,minlat,maxlon,maxlat") from exc
    return (x0, y0, x1, y1)


def _query(region: str | None, site: int | None, kind: str | None, owner: str | None, lifecycle: str | None,
           q: str, bbox: str | None, sort: str, limit: int, offset: int) -> svc.CameraQuery:
    return svc.CameraQuery(region=region, site=site, kind=kind, owner=owner, lifecycle=lifecycle, q=q,
                           bbox=_bbox(bbox), sort=sort, limit=limit, offset=offset)


@router.get("", response_model=Page[CameraPublic])
def list_cameras(caller: CallerDep, v: VigilDep, region: str | None = None,
                 site: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
                 kind: str | None = None, owner: str | None = None, lifecycle: str | None = None, q: str = "",
                 bbox: str | None = None, sort: str = "id", limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                 offset: Offset = 0) -> Response:
    """Search cameras in scope, filtered and paginated."""
    with v.db.read_session() as session:  # in this thread: no second hop to end it (see vigil.api.answers)
        p = caller.principal(session)
        check_permission(p, "registry.read")
        f = _query(region, site, kind, owner, lifecycle, q, bbox, sort, limit, offset)
        items, total = svc.list_cameras(session, p, f)
        st = _statuses(session, [c["id"] for c in items])
        out = {"items": [camera_json(c, st.get(c["id"])) for c in items], "total": total, "limit": limit,
               "offset": offset}
    return model_response(Page[CameraPublic], out)


@router.get("/geojson", response_model=CameraMapPublic)
def cameras_geojson(p: CurrentPrincipal, session: ReadSessionDep, region: str | None = None, bbox: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=50000)] = 5000) -> Response:
    """Cameras in scope as a GeoJSON FeatureCollection (for the map).

    Encoded here as compact JSON (the response model documents it): validating 20,000 features through the
    model again took longer than the query.
    """
    check_permission(p, "registry.read")
    rows = svc.camera_points(session, p, svc.CameraQuery(region=region, bbox=_bbox(bbox)), limit)
    # statuses by region rather than by a list of ids (a whole city exceeds SQLite's parameter limit)
    sq = (select(CameraStatus.camera_id, CameraStatus.state).join(Camera, Camera.id == CameraStatus.camera_id)
          .where((p.scope.narrowed(region) if region else p.scope).clause(Camera.region_code)))
    st = dict(session.execute(sq).all()) if rows else {}
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
              "properties": {"id": r.id, "name": r.name, "kind": r.kind, "lifecycle": r.lifecycle,
                             "heading_deg": r.heading_deg, "status": st.get(r.id)}} for r in rows]
    return Response(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False,
                               separators=(",", ":")), media_type="application/json")


@router.get("/{camera_id}", response_model=CameraDetailPublic)
def get_camera(camera_id: str, caller: CallerDep, v: VigilDep) -> Response:
    """One camera with its stream URLs (the read is audited); its ETag is the version to send as If-Match.

    The caller and the camera are read in one read session (no write lock); only the audit entry is
    written (a short transaction). Both run in this thread and the answer is encoded here
    (:mod:`vigil.api.answers`).
    """
    with v.db.read_session() as reads:
        p = caller.principal(reads)
        check_permission(p, "registry.read")
        out, tag = _detail(reads, p, camera_id)
    with v.db.session() as session:
        record(session, p.name, "camera.view", f"camera:{camera_id}", region=out["region_code"])
    return model_response(CameraDetailPublic, out, headers={"ETag": tag})


@router.post("", status_code=201, response_model=CameraDetailPublic)
def create_camera(body: CameraIn, caller: CallerDep, v: VigilDep) -> Response:
    """Register a camera (admin; planners may add planned cameras).

    The checks that only read run in a read session; the write transaction (on SQLite: the write
    lock) holds only what must be atomic (:func:`vigil.registry.cameras.store_camera`), and the
    answer is the row it wrote.
    """
    with v.db.read_session() as reads:
        p = caller.principal(reads)
        new = svc.check_new_camera(reads, p, body, v.box)
    with v.db.session() as session:  # committed in this thread, before the answer leaves
        cam = svc.store_camera(session, p, new)
    return model_response(CameraDetailPublic, camera_json(svc.written_detail(cam, new.model), None), status_code=201)


@router.patch("/{camera_id}", response_model=CameraDetailPublic)
def update_camera(camera_id: str, body: CameraPatch, caller: CallerDep, v: VigilDep,
                  if_match: IfMatch = None) -> Response:
    """Change a camera (with If-Match: only if it is still at that version, else 412).

    As :func:`create_camera`: lookups in a read session (the camera's status with them: no write
    changes it), the camera's own checks and the update in the write transaction, the answer and
    its ETag from the version written.
    """
    with v.db.read_session() as reads:
        p = caller.principal(reads)
        change = svc.check_camera_change(reads, p, body, v.box)
        st = _statuses(reads, [camera_id]).get(camera_id)
    with v.db.session() as session:  # committed in this thread, before the answer leaves
        cam = svc.apply_camera_change(session, p, camera_id, change, versions=expected_versions(if_match))
        session.flush()  # the new version is the one answered
    out = camera_json(svc.written_detail(cam, svc.changed_model(cam, change)), st)
    return model_response(CameraDetailPublic, out, headers={"ETag": etag(cam)})


@router.delete("/{camera_id}", status_code=204)
def delete_camera(camera_id: str, p: CurrentPrincipal, session: SessionDep) -> None:
    """Delete a camera record (admin)."""
    svc.delete_camera(session, p, camera_id)
