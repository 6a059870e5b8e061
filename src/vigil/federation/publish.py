"""The child side of the feed: the change log after the parent's last sequence, under the sharing rules.

Each key becomes its current state (an upsert) or a delete.

A publication never carries a stream URL, a username or a password: only what a parent's tree, table,
map and KPIs need. Un-shared objects (by a rule change or an exclusion) go out as deletes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.access.guard import Scope, region_visible
from vigil.core.models import Camera, Region, Site
from vigil.coverage.models import SiteCoverage
from vigil.federation.changes import log_changes, sweep_status
from vigil.federation.models import ChangeKind, FedChange, FedRemote
from vigil.federation.rules import ShareRules
from vigil.health.models import (
    Alarm,
    CameraStatus,
    MaintenanceTeam,
    QualityChange,
    ReportedRepair,
    StatusChange,
    WorkOrder,
)

__all__ = ["Batch", "build_batch", "camera_shared", "pending_count", "republish_all", "shared_ids"]

Batch = dict[str, Any]
_CAM_COLS = (Camera.id, Camera.name, Camera.region_code, Camera.site_id, Camera.lon, Camera.lat, Camera.height_m,
             Camera.heading_deg, Camera.tilt_deg, Camera.kind, Camera.owner, Camera.lifecycle)
_ORDER: dict[str, int] = {ChangeKind.REGION: 0, ChangeKind.SITE: 1, ChangeKind.CAMERA: 2, ChangeKind.STATUS: 3,
          ChangeKind.QUALITY: 3, ChangeKind.COVERAGE: 3, ChangeKind.REPAIR: 3}


def camera_shared(rules: ShareRules, camera_id: str, region_code: str, kind: str, site_class: int | None, *,
                  scope: Scope | None = None) -> bool:
    """The sharing rule of one camera: its region, kind and site class (3 without a site), minus exclusions.

    ``scope``: ``rules.scope()`` when the caller has it already (a batch checks thousands of cameras).
    """
    if camera_id in rules.exclude or not region_visible(scope or rules.scope(), region_code):
        return False
    if rules.kinds and kind not in rules.kinds:
        return False
    return not rules.site_classes or (site_class or 3) in rules.site_classes


def shared_ids(session: Session, rules: ShareRules, ids: list[str]) -> set[str]:
    """Which of ``ids`` are shared under ``rules``."""
    q = (select(Camera.id, Camera.region_code, Camera.kind, Site.protection_class)
         .outerjoin(Site, Site.id == Camera.site_id).where(Camera.id.in_(ids)))
    scope = rules.scope()
    return {r[0] for r in session.execute(q) if camera_shared(rules, *r, scope=scope)}


def _origins(session: Session, kind: str, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    q = select(FedRemote.local_key, FedRemote.origin).where(FedRemote.kind == kind, FedRemote.local_key.in_(keys))
    return dict(session.execute(q).all())


class _Builder:
    """Materialises one batch: current rows, dependencies first, deletes last."""

    def __init__(self, session: Session, rules: ShareRules) -> None:
        self.s, self.rules, self.scope = session, rules, rules.scope()
        self.ups: dict[tuple[str, str], dict[str, Any]] = {}
        self.dels: list[tuple[str, str]] = []
        self.events: list[dict[str, Any]] = []
        self.unshared: set[str] = set()  # cameras this batch deletes (gone or no longer shared)

    def region(self, code: str) -> None:
        if (ChangeKind.REGION, code) in self.ups:
            return
        r = self.s.get(Region, code)
        if r is None or not region_visible(self.scope, code):
            self.dels.append((ChangeKind.REGION, code))
            return
        if r.parent_code and region_visible(self.scope, r.parent_code):
            self.region(r.parent_code)
        self.ups[(ChangeKind.REGION, code)] = {"code": r.code, "name": r.name, "parent_code": r.parent_code,
                                               "lon": r.lon, "lat": r.lat}

    def site(self, site_id: str, site: Site | None = None) -> None:
        if (ChangeKind.SITE, site_id) in self.ups:
            return
        site = site or self.s.get(Site, int(site_id))
        if site is None or not region_visible(self.scope, site.region_code):
            self.dels.append((ChangeKind.SITE, site_id))
            return
        self.region(site.region_code)
        self.ups[(ChangeKind.SITE, site_id)] = {
            "id": site.id, "name": site.name, "kind": site.kind, "protection_class": site.protection_class,
            "sensitive": site.sensitive, "region_code": site.region_code, "lon": site.lon, "lat": site.lat,
            "geometry": site.geometry}

    def cameras(self, ids: list[str]) -> None:
        q = (select(*_CAM_COLS, Site.protection_class, CameraStatus.state, CameraStatus.reason, CameraStatus.since,
                    CameraStatus.faults)
             .outerjoin(Site, Site.id == Camera.site_id).outerjoin(CameraStatus, CameraStatus.camera_id == Camera.id)
             .where(Camera.id.in_(ids)))
        rows = {r.id: r for r in self.s.execute(q)}
        origins = _origins(self.s, ChangeKind.CAMERA, ids)
        for cid in ids:
            r = rows.get(cid)
            if r is None or not camera_shared(self.rules, cid, r.region_code, r.kind, r.protection_class,
                                                     scope=self.scope):
                self.dels.append((ChangeKind.CAMERA, cid))
                self.unshared.add(cid)
                continue
            self.region(r.region_code)
            if r.site_id is not None:
                self.site(str(r.site_id))
            data = {c.key: getattr(r, c.key) for c in _CAM_COLS}
            data["origin"] = origins.get(cid, "")
            data["status"] = None if r.state is None else {
                "state": r.state, "reason": r.reason, "since": r.since.isoformat(), "faults": list(r.faults or [])}
            self.ups[(ChangeKind.CAMERA, cid)] = data

    def status(self, kind: str, ids: list[int]) -> None:
        if kind == ChangeKind.STATUS:
            q = select(StatusChange.camera_id, StatusChange.ts, StatusChange.state, StatusChange.reason).where(
                StatusChange.id.in_(ids)).order_by(StatusChange.id)
        else:
            q = select(QualityChange.camera_id, QualityChange.ts, QualityChange.faults).where(
                QualityChange.id.in_(ids)).order_by(QualityChange.id)
        rows = self.s.execute(q).all()
        cams = {r[0] for r in rows}
        shared = {c for c in cams if (ChangeKind.CAMERA, c) in self.ups}  # decided by this batch's upserts
        if rest := cams - shared - self.unshared:
            shared |= shared_ids(self.s, self.rules, sorted(rest))
        for r in rows:
            if r[0] not in shared:
                continue
            ev = {"kind": kind, "camera_id": r[0], "ts": r[1].isoformat()}
            ev.update({"state": r[2], "reason": r[3]} if kind == ChangeKind.STATUS else {"faults": r[2]})
            self.events.append(ev)

    def coverage(self, ids: list[int]) -> None:
        """Coverage measurements of sites this batch may publish (with the site; site-less ones by region).

        A measurement that is gone (deleted alone, in bulk or with its plan) goes as a delete.
        """
        q = select(SiteCoverage.id, SiteCoverage.site_id, SiteCoverage.region_code, SiteCoverage.site_name,
                   SiteCoverage.level, SiteCoverage.targets, SiteCoverage.coverage,
                   SiteCoverage.measured_at).where(SiteCoverage.id.in_(ids))
        rows = self.s.execute(q).all()
        found = {r.id for r in rows}
        self.dels += [(ChangeKind.COVERAGE, str(i)) for i in dict.fromkeys(ids) if i not in found]
        for r in rows:
            if not region_visible(self.scope, r.region_code):
                continue
            if r.site_id is not None:
                self.site(str(r.site_id))
                if (ChangeKind.SITE, str(r.site_id)) not in self.ups:
                    continue
            self.ups[(ChangeKind.COVERAGE, str(r.id))] = {
                "id": r.id, "site_id": r.site_id, "region_code": r.region_code, "site_name": r.site_name,
                "level": r.level, "targets": r.targets, "coverage": r.coverage,
                "measured_at": r.measured_at.isoformat()}

    def repairs(self, work_orders: list[int], relayed: list[int]) -> None:
        """Verified repairs of shared cameras (wire keys ``w<work order>``, ``r<repair from below>``); others go as deletes."""
        q = (select(WorkOrder.id, WorkOrder.camera_id, WorkOrder.region_code, MaintenanceTeam.contractor,
                    func.coalesce(Alarm.raised_at, WorkOrder.opened_at), WorkOrder.verified_at)
             .outerjoin(Alarm, Alarm.id == WorkOrder.alarm_id)
             .outerjoin(MaintenanceTeam, MaintenanceTeam.id == WorkOrder.team_id).where(WorkOrder.id.in_(work_orders)))
        found = {f"w{r[0]}": r[1:] for r in self.s.execute(q)} if work_orders else {}
        q2 = select(ReportedRepair.id, ReportedRepair.camera_id, ReportedRepair.region_code, ReportedRepair.contractor,
                    ReportedRepair.started_at, ReportedRepair.verified_at).where(ReportedRepair.id.in_(relayed))
        found |= {f"r{r[0]}": r[1:] for r in self.s.execute(q2)} if relayed else {}
        shared = shared_ids(self.s, self.rules, sorted({r[0] for r in found.values()}))
        for key in [f"w{i}" for i in work_orders] + [f"r{i}" for i in relayed]:
            r = found.get(key)
            if r is None or r[4] is None or r[0] not in shared or not region_visible(self.scope, r[1]):
                self.dels.append((ChangeKind.REPAIR, key))
                continue
            self.ups[(ChangeKind.REPAIR, key)] = {"key": key, "camera_id": r[0], "region_code": r[1],
                                                  "contractor": r[2] or "", "started_at": r[3].isoformat(),
                                                  "verified_at": r[4].isoformat()}

    def entries(self) -> list[dict[str, Any]]:
        ups = sorted(self.ups.items(), key=lambda kv: (_ORDER[kv[0][0]], len(kv[0][1]) if kv[0][0] == "region" else 0))
        out = [{"op": "upsert", "kind": k, "key": key, "data": d} for (k, key), d in ups]
        out += self.events
        seen = set(self.ups)
        dels = [d for d in dict.fromkeys(self.dels) if d not in seen]
        dels.sort(key=lambda d: (-_ORDER[d[0]], -len(d[1])))
        out += [{"op": "delete", "kind": k, "key": key} for k, key in dels]
        return out


def build_batch(session: Session, rules: ShareRules, after: int, *, limit: int = 6000) -> Batch:
    """The publication after sequence ``after``: at most ``limit`` log entries, as current states."""
    sweep_status(session)
    rows = session.execute(select(FedChange.seq, FedChange.kind, FedChange.key).where(FedChange.seq > after)
                           .order_by(FedChange.seq).limit(limit)).all()
    b = _Builder(session, rules)
    by_kind: dict[str, list[str]] = {}
    for _, kind, key in rows:
        by_kind.setdefault(kind, []).append(key)
    for code in by_kind.get(ChangeKind.REGION, []):
        b.region(code)
    for sid in dict.fromkeys(by_kind.get(ChangeKind.SITE, [])):
        b.site(sid)
    cams = list(dict.fromkeys(by_kind.get(ChangeKind.CAMERA, [])))
    for i in range(0, len(cams), 2000):
        b.cameras(cams[i:i + 2000])
    cov = [int(k) for k in by_kind.get(ChangeKind.COVERAGE, [])]
    for i in range(0, len(cov), 2000):
        b.coverage(cov[i:i + 2000])
    wos = [int(k) for k in dict.fromkeys(by_kind.get(ChangeKind.REPAIR, []))]
    relayed = [int(k) for k in dict.fromkeys(by_kind.get(ChangeKind.REPAIR_IN, []))]
    for i in range(0, max(len(wos), len(relayed)), 2000):
        b.repairs(wos[i:i + 2000], relayed[i:i + 2000])
    for kind in (ChangeKind.STATUS, ChangeKind.QUALITY):
        ids = [int(k) for k in by_kind.get(kind, [])]
        for i in range(0, len(ids), 2000):
            b.status(kind, ids[i:i + 2000])
    return {"after": after, "last": rows[-1][0] if rows else after, "entries": b.entries()}


def pending_count(session: Session, after: int) -> int:
    """Log entries not yet acknowledged by the parent."""
    return session.scalar(select(func.count()).select_from(FedChange).where(FedChange.seq > after)) or 0


def republish_all(session: Session) -> None:
    """Append every region, site, camera and coverage measurement to the log (after a rule change).

    Un-shared ones go as deletes; a re-shared site's measurements go again with it.
    """
    log_changes(session, ChangeKind.REGION, session.scalars(select(Region.code).order_by(func.length(Region.code))))
    log_changes(session, ChangeKind.SITE, session.scalars(select(Site.id)))
    log_changes(session, ChangeKind.CAMERA, session.scalars(select(Camera.id)))
    log_changes(session, ChangeKind.COVERAGE, session.scalars(select(SiteCoverage.id).order_by(SiteCoverage.id)))

