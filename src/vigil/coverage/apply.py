"""Plans and the registry: existing cameras in, planned cameras out, plans and site coverage recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope
from vigil.core.errors import ConflictError, InputError, NotFoundError
from vigil.core.ids import generate_device_id
from vigil.core.models import Camera, CameraKind, CameraModel, Lifecycle, Region, Site, utcnow
from vigil.core.regions import in_subtree
from vigil.coverage.candidates import HIGH_MOUNTS
from vigil.coverage.geo import Feature, read_features
from vigil.coverage.models import PlanRecord, SiteCoverage
from vigil.registry.streams import in_service_population

__all__ = ["apply_plan", "record_plan", "registry_cameras"]

_MARKER = "applied.json"


def registry_cameras(session: Session, area: str | Path, *, scope: Scope,
                     margin_deg: float = 0.005) -> list[Feature]:
    """In-service cameras of the registry in ``scope`` around the area's footprints, as WGS84 points.

    Their IDs and positions end up in the plan's files, so ``scope`` must be no wider than what every
    reader of the plan may see: the plan's region subtree within the caller's scope.
    """
    feats = read_features(area, osm_layer="multipolygons")
    if not feats:
        return []
    xmin, ymin, xmax, ymax = shapely.total_bounds([f.geom for f in feats])
    rows = session.scalars(select(Camera).where(
        scope.clause(Camera.region_code),
        in_service_population(),
        Camera.lon.between(xmin - margin_deg, xmax + margin_deg),
        Camera.lat.between(ymin - margin_deg, ymax + margin_deg))).all()
    out = []
    for c in rows:
        m = c.model
        props: dict[str, Any] = {"id": c.id, "height_m": c.height_m, "heading_deg": c.heading_deg,
                                 "tilt_deg": c.tilt_deg}
        if m is not None:
            props.update(model=m.name, h_res_px=m.h_res_px, v_res_px=m.v_res_px, hfov_deg=m.hfov_deg,
                         vfov_deg=m.vfov_deg)
        else:
            props.update(model=f"unknown-{c.id}", h_res_px=1920, v_res_px=1080, hfov_deg=90)
        out.append(Feature(shapely.Point(c.lon, c.lat), props))
    return out


def record_plan(session: Session, summary: dict[str, Any], out_dir: str | Path, *, region_code: str | None,
                created_by: str, name: str = "", inputs: dict[str, Any] | None = None) -> PlanRecord:
    """Store a plan run and the coverage it measured per community (the coverage-rate KPI).

    ``inputs`` (:func:`vigil.coverage.service.request_inputs`) let the plan's sites be re-measured when
    their cameras change (:mod:`vigil.coverage.current`).
    """
    if region_code is not None and session.get(Region, region_code) is None:
        raise NotFoundError(f"region {region_code} not found")
    rec = PlanRecord(name=name or summary.get("name", ""), region_code=region_code, created_by=created_by,
                     out_dir=str(Path(out_dir).resolve()), level=summary.get("level", ""), summary=summary,
                     inputs=inputs)
    session.add(rec)
    session.flush()
    if region_code is not None:
        sites = {s.name: s for s in session.scalars(select(Site).where(in_subtree(Site.region_code, region_code)))}
        for c in summary.get("communities", []):
            if c.get("coverage_before") is None:
                continue
            site = sites.get(c["name"])
            session.add(SiteCoverage(plan_id=rec.id, region_code=site.region_code if site else region_code,
                                     site_id=site.id if site else None, site_name=c["name"][:200],
                                     level=rec.level, targets=c["targets"], coverage=c["coverage_before"],
                                     coverage_planned=c["coverage_after"]))
    record(session, created_by, "plan.run", f"plan:{rec.id}", name=rec.name, cameras_new=summary.get("cameras_new"),
           coverage_after=summary.get("coverage_after"))
    return rec


def _model(session: Session, props: dict[str, Any]) -> CameraModel:
    name = str(props.get("model") or "planned")
    m = session.scalar(select(CameraModel).where(CameraModel.name == name))
    if m is None:
        m = CameraModel(name=name, h_res_px=int(props["h_res_px"]), v_res_px=int(props.get("v_res_px") or 0),
                        hfov_deg=float(props["hfov_deg"]), vfov_deg=float(props.get("vfov_deg") or 0),
                        form_factor=str(props.get("form_factor") or "bullet"), unit_cost=float(props.get("cost") or 0))
        session.add(m)
        session.flush()
    return m


def apply_plan(session: Session, out_dir: str | Path, *, region_code: str, actor: str,
               site_id: int | None = None) -> list[str]:
    """Insert the plan's new cameras as ``planned`` cameras with GB/T 28181 IDs; return the IDs."""
    from vigil.registry.cameras import next_serial

    d = Path(out_dir)
    plan_file = d / "plan.geojson"
    if not plan_file.exists():
        raise InputError(f"{d}: no plan.geojson (run `vigil plan AREA --out {d}` first)")
    if (d / _MARKER).exists():
        raise ConflictError(f"{d}: this plan was already applied")
    if session.get(Region, region_code) is None:
        raise NotFoundError(f"region {region_code} not found")
    feats = [f for f in json.loads(plan_file.read_text(encoding="utf-8"))["features"]
             if f["properties"].get("status") == "new"]
    serial = next_serial(session, region_code)
    name = d.name
    ids = []
    for f in feats:
        pr = f["properties"]
        lon, lat = f["geometry"]["coordinates"]
        cid = generate_device_id(region_code, serial).value
        serial += 1
        kind = CameraKind.HIGH_POINT if pr.get("mount") in HIGH_MOUNTS else (
            CameraKind.COMMUNITY_ENTRANCE if pr.get("mount") == "entrance" else CameraKind.PUBLIC_AREA)
        session.add(Camera(id=cid, name=f"{name} {pr['id']}"[:200], region_code=region_code, site_id=site_id,
                           lon=lon, lat=lat, height_m=pr["height_m"], heading_deg=pr["heading_deg"],
                           tilt_deg=pr["tilt_deg"], model_id=_model(session, pr).id, kind=kind.value,
                           lifecycle=Lifecycle.PLANNED.value))
        ids.append(cid)
    session.flush()
    rec = session.scalar(select(PlanRecord).where(PlanRecord.out_dir == str(d.resolve())))
    if rec is not None:
        rec.applied_at = utcnow()
    record(session, actor, "plan.apply", str(d), region=region_code, cameras=len(ids),
           first=ids[0] if ids else None, last=ids[-1] if ids else None)
    (d / _MARKER).write_text(json.dumps({"region": region_code, "ids": ids, "by": actor}))
    return ids
