"""The parent side of the feed: apply a child's publication idempotently, inside the child's subtree.

A batch says which sequence it follows (``after``). If that is not the link's last applied sequence
(a retry after a lost answer, or a parent restored from a backup), nothing is applied and the answer
names the sequence the child must resume after: no entry is ever lost or applied twice.

Every entry is checked by the guard against the link's scope (the subtree its token is bound to);
one outside it is refused and counted, never written. Objects keep their local keys (site ids are
mapped), remote cameras never get a stream URL or credentials here, and each object applied is logged
again, so a parent that is itself a child passes it upward with its origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigil.access.guard import region_visible
from vigil.core.ids import level_of_code
from vigil.core.models import Camera, Region, Site, utcnow
from vigil.coverage.models import SiteCoverage
from vigil.federation.bulk import insert_rows
from vigil.federation.changes import log_changes
from vigil.federation.links import LinkPeer
from vigil.federation.models import ChangeKind, FedLink, FedRemote
from vigil.health.models import CameraStatus, QualityChange, ReportedRepair, StatusChange

__all__ = ["ApplyResult", "apply_batch"]

_ANCESTORS = (8, 6, 4, 2)
# the tables written in bulk (Core statements: no per-row ORM work, no version check)
_T_CAMERAS, _T_REMOTE, _T_STATUS = (cast(Table, m.__table__) for m in (Camera, FedRemote, CameraStatus))
_T_STATUS_CHANGES, _T_QUALITY_CHANGES = (cast(Table, m.__table__) for m in (StatusChange, QualityChange))
_DELETABLE: dict[str, tuple[type[Any], Any]] = {ChangeKind.CAMERA: (Camera, Camera.id), ChangeKind.SITE: (Site, Site.id),
                                                ChangeKind.REGION: (Region, Region.code),
                                                ChangeKind.REPAIR: (ReportedRepair, ReportedRepair.id),
                                                ChangeKind.COVERAGE: (SiteCoverage, SiteCoverage.id)}
_INT_KEYS = (ChangeKind.SITE, ChangeKind.REPAIR, ChangeKind.COVERAGE)  # local keys that are integer row ids
_CAM_FIELDS = ("name", "region_code", "lon", "lat", "height_m", "heading_deg", "tilt_deg", "kind", "owner",
               "lifecycle")


@dataclass
class ApplyResult:
    """What one batch did."""

    seq: int
    applied: bool
    upserts: int = 0
    deletes: int = 0
    events: int = 0
    refused: list[str] = field(default_factory=list)


class _Applier:
    def __init__(self, session: Session, link: FedLink) -> None:
        self.s, self.link = session, link
        self.scope = LinkPeer(link.id, link.name, link.region_code or "").scope  # the guard's scope, built once
        self.res = ApplyResult(link.seq, True)
        self.touched: dict[str, list[str]] = {}
        self.fresh: set[str] = set()  # cameras whose current state came with their upsert in this batch

    def _remote(self, kind: str, keys: list[str]) -> dict[str, FedRemote]:
        q = select(FedRemote).where(FedRemote.link_id == self.link.id, FedRemote.kind == kind,
                                    FedRemote.remote_key.in_(keys))
        return {r.remote_key: r for r in self.s.scalars(q)}

    def _refuse(self, what: str) -> None:
        if len(self.res.refused) < 20:
            self.res.refused.append(what)

    def _touch(self, kind: str, key: Any) -> None:
        self.touched.setdefault(kind, []).append(str(key))

    def _parent_code(self, code: str, given: str | None) -> str | None:
        if given and self.s.get(Region, given) is not None:
            return given
        for n in _ANCESTORS:
            if n < len(code) and self.s.get(Region, code[:n]) is not None:
                return code[:n]
        return None

    def region(self, d: dict[str, Any]) -> None:
        code = str(d.get("code", ""))
        if not region_visible(self.scope, code):
            return self._refuse(f"region {code} lies outside the link's subtree")
        r = self.s.get(Region, code)
        if r is None:
            r = Region(code=code, level=int(level_of_code(code)))
            self.s.add(r)
            self.s.add(FedRemote(link_id=self.link.id, kind=ChangeKind.REGION, remote_key=code, local_key=code,
                                 origin=self.link.name))
        r.name, r.lon, r.lat = str(d.get("name") or code)[:120], d.get("lon"), d.get("lat")
        r.parent_code = self._parent_code(code, d.get("parent_code"))
        self.s.flush()
        self._touch(ChangeKind.REGION, code)

    def site(self, d: dict[str, Any]) -> None:
        rid, region = str(d.get("id")), str(d.get("region_code", ""))
        if not region_visible(self.scope, region):
            return self._refuse(f"site {rid} lies outside the link's subtree")
        known = self._remote(ChangeKind.SITE, [rid]).get(rid)
        site = self.s.get(Site, int(known.local_key)) if known else None
        values = {k: d.get(k) for k in ("name", "kind", "protection_class", "sensitive", "region_code", "lon", "lat",
                                         "geometry")}
        try:
            with self.s.begin_nested():
                if site is None:
                    site = Site(**values)
                    self.s.add(site)
                    self.s.flush()
                    self.s.add(FedRemote(link_id=self.link.id, kind=ChangeKind.SITE, remote_key=rid,
                                         local_key=str(site.id), origin=self.link.name))
                else:
                    for k, v in values.items():
                        setattr(site, k, v)
                self.s.flush()
        except IntegrityError:
            return self._refuse(f"site {rid} conflicts with a site of this instance")
        self._touch(ChangeKind.SITE, site.id)

    def cameras(self, items: list[dict[str, Any]]) -> None:
        ids = [str(d.get("id")) for d in items]
        mine = self._remote(ChangeKind.CAMERA, ids)
        taken = set(self.s.scalars(select(Camera.id).where(Camera.id.in_(ids)))) - set(mine)
        sites = {k: int(v.local_key) for k, v in self._remote(ChangeKind.SITE,
                                                               [str(d["site_id"]) for d in items if d.get("site_id")]
                                                               ).items()}
        new, upd, links, status = [], [], [], []
        for d in items:
            cid = str(d.get("id"))
            if not region_visible(self.scope, d.get("region_code")) or len(cid) != 20:
                self._refuse(f"camera {cid} lies outside the link's subtree")
                continue
            if cid in taken:
                self._refuse(f"camera {cid} belongs to this instance or another link")
                continue
            row = {k: d.get(k) for k in _CAM_FIELDS} | {"site_id": sites.get(str(d.get("site_id")))}
            if cid in mine:
                upd.append({"id": cid, **row, "updated_at": utcnow()})
                mine[cid].origin = self._origin(d)
            else:
                new.append({"id": cid, **row})
                links.append({"link_id": self.link.id, "kind": ChangeKind.CAMERA, "remote_key": cid,
                              "local_key": cid, "origin": self._origin(d)})
            if d.get("status"):
                status.append((cid, d["status"]))
            self._touch(ChangeKind.CAMERA, cid)
        t = _T_CAMERAS
        upd_stmt = update(t).where(t.c.id == bindparam("b_id")).values(
            {c: bindparam(c) for c in (*_CAM_FIELDS, "site_id", "updated_at")})
        upd = [{"b_id": r.pop("id"), **r} for r in upd]
        insert_rows(self.s, t, new)
        insert_rows(self.s, _T_REMOTE, links)
        for i in range(0, len(upd), 1000):
            self.s.execute(upd_stmt, upd[i:i + 1000])
        self._current_status(status)
        self.res.upserts += len(new) + len(upd)

    def _origin(self, d: dict[str, Any]) -> str:
        return "/".join(p for p in (self.link.name, str(d.get("origin") or "")) if p)[:300]

    def _current_status(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        if not items:
            return
        have = set(self.s.scalars(select(CameraStatus.camera_id).where(
            CameraStatus.camera_id.in_([c for c, _ in items]))))
        new = [{"camera_id": c, "state": st.get("state", "unknown"), "reason": st.get("reason", ""),
                "since": datetime.fromisoformat(st["since"]), "faults": st.get("faults", [])}
               for c, st in items if c not in have]
        insert_rows(self.s, _T_STATUS, new)
        self.fresh.update(r["camera_id"] for r in new)

    def events(self, events: list[dict[str, Any]], mine: set[str]) -> None:
        """Status and quality changes in order: history rows inserted, current state updated, in bulk."""
        hist: dict[str, list[dict[str, Any]]] = {ChangeKind.STATUS: [], ChangeKind.QUALITY: []}
        state: dict[str, dict[str, Any]] = {}
        faults: dict[str, dict[str, Any]] = {}
        for e in events:
            cid = str(e.get("camera_id"))
            if cid not in mine:
                continue
            ts = datetime.fromisoformat(e["ts"])
            # a camera upserted in this batch already holds its current state (newer than any event here)
            if e["kind"] == ChangeKind.STATUS:
                st, why = str(e.get("state"))[:10], str(e.get("reason", ""))[:20]
                hist[ChangeKind.STATUS].append({"camera_id": cid, "ts": ts, "state": st, "reason": why})
                if cid not in self.fresh:
                    state[cid] = {"b_id": cid, "state": st, "reason": why, "since": ts}
            else:
                f = list(e.get("faults") or [])
                hist[ChangeKind.QUALITY].append({"camera_id": cid, "ts": ts, "faults": f, "metrics": {}})
                if cid not in self.fresh:
                    faults[cid] = {"b_id": cid, "faults": f, "faults_since": ts if f else None}
        touched = sorted(set(state) | set(faults))
        have: set[str] = set()
        for i in range(0, len(touched), 2000):
            for cid, st, since in self.s.execute(select(CameraStatus.camera_id, CameraStatus.state,
                                                        CameraStatus.since).where(
                    CameraStatus.camera_id.in_(touched[i:i + 2000]))):
                have.add(cid)
                new = state.get(cid)
                if new is not None and new["state"] == st and new["since"] == since:
                    del state[cid]  # already current (the camera's upsert carried it): no update to write
        fresh: list[dict[str, Any]] = [{"camera_id": c, "state": "unknown", "reason": "", "faults": [],
                  "since": state[c]["since"] if c in state else faults[c]["faults_since"] or utcnow()}
                 for c in touched if c not in have]
        t = _T_STATUS
        insert_rows(self.s, _T_STATUS_CHANGES, hist[ChangeKind.STATUS])
        insert_rows(self.s, _T_QUALITY_CHANGES, hist[ChangeKind.QUALITY])
        insert_rows(self.s, t, fresh)
        stmts = [(update(t).where(t.c.camera_id == bindparam("b_id")).values(
                     state=bindparam("state"), reason=bindparam("reason"), since=bindparam("since")),
                  list(state.values())),
                 (update(t).where(t.c.camera_id == bindparam("b_id")).values(
                     faults=bindparam("faults"), faults_since=bindparam("faults_since")), list(faults.values()))]
        for stmt, rows in stmts:
            for i in range(0, len(rows), 1000):
                self.s.execute(stmt, rows[i:i + 1000])
        self.res.events += len(hist[ChangeKind.STATUS]) + len(hist[ChangeKind.QUALITY])

    def coverage(self, items: list[dict[str, Any]]) -> None:
        """Coverage measurements of the child's sites, stored as this instance's rows of those sites."""
        mine = self._remote(ChangeKind.COVERAGE, [str(d.get("id")) for d in items])
        sites = {k: int(v.local_key) for k, v in self._remote(
            ChangeKind.SITE, [str(d["site_id"]) for d in items if d.get("site_id") is not None]).items()}
        for d in items:
            key, site = str(d.get("id")), d.get("site_id")
            if not region_visible(self.scope, d.get("region_code")) or (site is not None and str(site) not in sites):
                self._refuse(f"coverage {key} is of a site outside the link's subtree or unknown here")
                continue
            values = {"site_id": sites.get(str(site)), "region_code": str(d.get("region_code")),
                      "site_name": str(d.get("site_name") or "")[:200], "level": str(d.get("level") or "")[:20],
                      "targets": int(d.get("targets") or 0), "coverage": float(d["coverage"]),
                      "measured_at": datetime.fromisoformat(d["measured_at"]), "source": "federated"}
            known = mine.get(key)
            if known is None or not cast(CursorResult[Any], self.s.execute(update(SiteCoverage).where(
                    SiteCoverage.id == int(known.local_key)).values(values))).rowcount:
                row = SiteCoverage(**values)
                self.s.add(row)
                self.s.flush()
                if known is None:
                    self.s.add(FedRemote(link_id=self.link.id, kind=ChangeKind.COVERAGE, remote_key=key,
                                         local_key=str(row.id), origin=self.link.name))
                else:  # our copy went with its site: the measurement comes again
                    known.local_key = str(row.id)
            else:  # a changed row (the child reused a deleted id) is not swept again here: log it
                self._touch(ChangeKind.COVERAGE, known.local_key)
            self.res.upserts += 1

    def repairs(self, items: list[dict[str, Any]]) -> None:
        """Verified repairs of this link's cameras, kept for the repair-time KPI (and passed upward)."""
        mine = self._remote(ChangeKind.REPAIR, [str(d.get("key")) for d in items])
        cams = set(self._remote(ChangeKind.CAMERA, [str(d.get("camera_id")) for d in items]))
        for d in items:
            key, cid = str(d.get("key")), str(d.get("camera_id"))
            if cid not in cams or not region_visible(self.scope, d.get("region_code")):
                self._refuse(f"repair {key} is not of a camera of this link")
                continue
            values = {"camera_id": cid, "region_code": str(d.get("region_code")),
                      "contractor": str(d.get("contractor") or "")[:100],
                      "started_at": datetime.fromisoformat(d["started_at"]),
                      "verified_at": datetime.fromisoformat(d["verified_at"])}
            if key in mine:
                local = int(mine[key].local_key)
                self.s.execute(update(ReportedRepair).where(ReportedRepair.id == local).values(values))
            else:
                row = ReportedRepair(**values)
                self.s.add(row)
                self.s.flush()
                local = row.id
                self.s.add(FedRemote(link_id=self.link.id, kind=ChangeKind.REPAIR, remote_key=key,
                                     local_key=str(local), origin=self.link.name))
            self._touch(ChangeKind.REPAIR_IN, local)
            self.res.upserts += 1

    def delete(self, kind: str, key: str) -> None:
        known = self._remote(kind, [key]).get(key)
        if known is None:
            return
        model, col = _DELETABLE[kind]
        local = int(known.local_key) if kind in _INT_KEYS else known.local_key
        try:
            with self.s.begin_nested():
                if kind == ChangeKind.CAMERA:
                    for m in (CameraStatus, StatusChange, QualityChange, ReportedRepair):
                        self.s.execute(delete(m).where(m.camera_id == local))
                elif kind == ChangeKind.SITE:  # its measurements go with it (and upward, as deletes)
                    gone = [str(i) for i in self.s.scalars(select(SiteCoverage.id).where(SiteCoverage.site_id == local))]
                    self.s.execute(delete(FedRemote).where(FedRemote.kind == ChangeKind.COVERAGE,
                                                           FedRemote.local_key.in_(gone)))
                    self.s.execute(delete(SiteCoverage).where(SiteCoverage.site_id == local))
                    for i in gone:
                        self._touch(ChangeKind.COVERAGE, i)
                self.s.execute(delete(model).where(col == local))
                self.s.delete(known)
                self.s.flush()
        except IntegrityError:
            return self._refuse(f"{kind} {key} is still in use here and was kept")
        self.res.deletes += 1
        self._touch(ChangeKind.REPAIR_IN if kind == ChangeKind.REPAIR else kind, local)


def apply_batch(session: Session, link: FedLink, batch: dict[str, Any]) -> ApplyResult:
    """Apply one publication of ``link``'s child; the answer's ``seq`` is where the child resumes."""
    after, last = int(batch.get("after", -1)), int(batch.get("last", -1))
    link.last_contact = utcnow()
    if after != link.seq or last < after:
        return ApplyResult(link.seq, False)
    a = _Applier(session, link)
    session.info["fed_no_log"] = True  # the applier logs what it applied, once
    try:
        entries = list(batch.get("entries") or [])
        for e in entries:
            if e.get("op") == "upsert" and e.get("kind") == ChangeKind.REGION:
                a.region(e.get("data") or {})
                a.res.upserts += 1
            elif e.get("op") == "upsert" and e.get("kind") == ChangeKind.SITE:
                a.site(e.get("data") or {})
                a.res.upserts += 1
        a.cameras([e.get("data") or {} for e in entries if e.get("op") == "upsert" and e.get("kind") == "camera"])
        events = [e for e in entries if e.get("kind") in (ChangeKind.STATUS, ChangeKind.QUALITY) and "op" not in e]
        if events:
            mine = set(session.scalars(select(FedRemote.local_key).where(
                FedRemote.link_id == link.id, FedRemote.kind == ChangeKind.CAMERA,
                FedRemote.local_key.in_({str(e.get("camera_id")) for e in events}))))
            a.events(events, mine)
        for kind, fn in ((ChangeKind.COVERAGE, a.coverage), (ChangeKind.REPAIR, a.repairs)):
            if items := [e.get("data") or {} for e in entries if e.get("op") == "upsert" and e.get("kind") == kind]:
                fn(items)
        for e in entries:
            if e.get("op") == "delete" and e.get("kind") in _DELETABLE:
                a.delete(str(e["kind"]), str(e.get("key")))
        for touched_kind, keys in a.touched.items():
            log_changes(session, touched_kind, keys)
    finally:
        session.info.pop("fed_no_log", None)
    link.seq = a.res.seq = last
    if a.res.refused:
        link.errors += len(a.res.refused)
        link.last_error = a.res.refused[-1]
    return a.res
