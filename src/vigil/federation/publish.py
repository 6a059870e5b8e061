"""The child side of the feed: the change log after the parent's last sequence, under the sharing rules.

Each key becomes its current state (an upsert) or a delete.

A publication never carries a stream URL, a username or a password: only what a parent's tree, table,
map and KPIs need. Un-shared objects (by a rule change or an exclusion) go out as deletes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.access.guard import region_visible
from vigil.core.models import Camera, Region, Site
from vigil.federation.changes import log_changes, sweep_status
from vigil.federation.links import ShareRules
from vigil.federation.models import ChangeKind, FedChange, FedRemote
from vigil.health.models import CameraStatus, QualityChange, StatusChange

__all__ = ["Batch", "build_batch", "camera_shared", "pending_count", "republish_all"]

Batch = dict[str, Any]
_ORDER = {ChangeKind.REGION: 0, ChangeKind.SITE: 1, ChangeKind.CAMERA: 2, ChangeKind.STATUS: 3,
          ChangeKind.QUALITY: 3}


def camera_shared(rules: ShareRules, cam: Camera, site: Site | None) -> bool:
    """The sharing rule of one camera: its region, kind and site class, minus exclusions."""
    if cam.id in rules.exclude or not region_visible(rules.scope(), cam.region_code):
        return False
    if rules.kinds and cam.kind not in rules.kinds:
        return False
    return not rules.site_classes or (site.protection_class if site else 3) in rules.site_classes


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
        cams = {c.id: c for c in self.s.scalars(select(Camera).where(Camera.id.in_(ids)))}
        status = {st.camera_id: st for st in self.s.scalars(select(CameraStatus).where(CameraStatus.camera_id.in_(ids)))}
        origins = _origins(self.s, ChangeKind.CAMERA, ids)
        for cid in ids:
            cam = cams.get(cid)
            site = cam.site if cam is not None and cam.site_id else None
            if cam is None or not camera_shared(self.rules, cam, site):
                self.dels.append((ChangeKind.CAMERA, cid))
                continue
            self.region(cam.region_code)
            if site is not None:
                self.site(str(site.id), site)
            st = status.get(cid)
            self.ups[(ChangeKind.CAMERA, cid)] = {
                "id": cam.id, "name": cam.name, "region_code": cam.region_code, "site_id": cam.site_id,
                "lon": cam.lon, "lat": cam.lat, "height_m": cam.height_m, "heading_deg": cam.heading_deg,
                "tilt_deg": cam.tilt_deg, "kind": cam.kind, "owner": cam.owner, "lifecycle": cam.lifecycle,
                "origin": origins.get(cid, ""),
                "status": None if st is None else {"state": st.state, "reason": st.reason, "since": st.since.isoformat(),
                                                   "faults": list(st.faults or [])}}

    def status(self, kind: str, ids: list[int]) -> None:
        model = StatusChange if kind == ChangeKind.STATUS else QualityChange
        rows = list(self.s.scalars(select(model).where(model.id.in_(ids)).order_by(model.id)))
        cams = {c.id: c for c in self.s.scalars(select(Camera).where(Camera.id.in_({r.camera_id for r in rows})))}
        for r in rows:
            cam = cams.get(r.camera_id)
            if cam is None or not camera_shared(self.rules, cam, cam.site if cam.site_id else None):
                continue
            ev = {"kind": kind, "camera_id": r.camera_id, "ts": r.ts.isoformat()}
            ev.update({"state": r.state, "reason": r.reason} if kind == ChangeKind.STATUS else {"faults": r.faults})
            self.events.append(ev)

    def entries(self) -> list[dict[str, Any]]:
        ups = sorted(self.ups.items(), key=lambda kv: (_ORDER[kv[0][0]], len(kv[0][1]) if kv[0][0] == "region" else 0))
        out = [{"op": "upsert", "kind": k, "key": key, "data": d} for (k, key), d in ups]
        out += self.events
        seen = set(self.ups)
        dels = [d for d in dict.fromkeys(self.dels) if d not in seen]
        dels.sort(key=lambda d: (-_ORDER[d[0]], -len(d[1])))
        out += [{"op": "delete", "kind": k, "key": key} for k, key in dels]
        return out


def build_batch(session: Session, rules: ShareRules, after: int, *, limit: int = 2000) -> Batch:
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
    for i in range(0, len(cams), 500):
        b.cameras(cams[i:i + 500])
    for kind in (ChangeKind.STATUS, ChangeKind.QUALITY):
        ids = [int(k) for k in by_kind.get(kind, [])]
        for i in range(0, len(ids), 500):
            b.status(kind, ids[i:i + 500])
    return {"after": after, "last": rows[-1][0] if rows else after, "entries": b.entries()}


def pending_count(session: Session, after: int) -> int:
    """Log entries not yet acknowledged by the parent."""
    return session.scalar(select(func.count()).select_from(FedChange).where(FedChange.seq > after)) or 0


def republish_all(session: Session) -> None:
    """Append every region, site and camera to the log (after a rule change: un-shared ones go as deletes)."""
    log_changes(session, ChangeKind.REGION, session.scalars(select(Region.code).order_by(func.length(Region.code))))
    log_changes(session, ChangeKind.SITE, session.scalars(select(Site.id)))
    log_changes(session, ChangeKind.CAMERA, session.scalars(select(Camera.id)))

