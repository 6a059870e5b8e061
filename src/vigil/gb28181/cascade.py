"""Cascade, database side: upper platforms, and the catalog Vigil shows each one under its sharing rules.

The sharing rules are the federation's (:class:`vigil.federation.links.ShareRules`, the same
``regions=...;kinds=...`` syntax, decided by :func:`vigil.federation.publish.camera_shared`). The catalog
keeps the directory tree: region nodes (civil codes of 8 digits at most) from the prefecture down,
the directory nodes of GB devices (business groups, virtual organisations), then the cameras.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope
from vigil.core.crypto import CredentialBox
from vigil.core.errors import ConflictError, InputError
from vigil.core.ids import DeviceId
from vigil.core.models import Camera, Lifecycle, Region, Site, utcnow
from vigil.federation.links import ShareRules
from vigil.federation.publish import camera_shared
from vigil.gb28181.manscdp import CatalogItem
from vigil.gb28181.models import GbChannel, GbUpper
from vigil.health.models import CameraStatus

__all__ = ["UpperConfig", "add_upper", "catalog_changes", "list_uppers", "load_uppers", "shared_catalog",
           "shared_count", "write_upper_state"]


@dataclass(frozen=True)
class UpperConfig:
    """One upward link as the link task needs it."""

    upper_id: str
    host: str
    port: int
    local_id: str
    password: str
    expires: int
    keepalive: float
    rules: ShareRules


def add_upper(session: Session, box: CredentialBox, upper_id: str, *, host: str, port: int, password: str,
              local_id: str, rules: ShareRules, actor: str, expires: int = 3600, keepalive: int = 60) -> GbUpper:
    """Configure an upper platform to register to; the password is sealed with the instance key."""
    up, me = DeviceId.parse(upper_id), DeviceId.parse(local_id)
    if not 0 < port < 65536:
        raise InputError(f"port {port}: a SIP port is 1-65535")
    if not host or len(host) > 64:
        raise InputError("the upper platform needs a host (name or address)")
    if not 60 <= expires <= 86_400 or not 5 <= keepalive <= 3600:
        raise InputError("expires must be 60-86400 s and keepalive 5-3600 s")
    if session.get(GbUpper, up.value) is not None:
        raise ConflictError(f"upper platform {up.value} is already configured")
    row = GbUpper(id=up.value, host=host, port=port, local_id=me.value, password_enc=box.seal(password),
                  expires=expires, keepalive=keepalive, rules=rules.model_dump())
    session.add(row)
    record(session, actor, "gb.upper.add", up.value, host=host, port=port, local_id=me.value,
           rules=rules.model_dump())
    session.flush()
    return row


def load_uppers(session: Session, box: CredentialBox) -> list[UpperConfig]:
    """Every enabled upward link."""
    rows = session.scalars(select(GbUpper).where(GbUpper.enabled.is_(True)).order_by(GbUpper.id)).all()
    return [UpperConfig(r.id, r.host, r.port, r.local_id, box.open(r.password_enc), r.expires, r.keepalive,
                        ShareRules(**r.rules)) for r in rows]


def list_uppers(session: Session, scope: Scope) -> list[GbUpper]:
    """The upper platforms whose shared regions all lie in ``scope`` ("all" shares the instance's root regions)."""
    roots = Scope.of(session.scalars(select(Region.code).where(Region.parent_code.is_(None))))
    out = []
    for row in session.scalars(select(GbUpper).order_by(GbUpper.id)):
        shared = ShareRules(**row.rules).scope()
        want = roots if shared.all_regions else shared
        if scope.all_regions or (want.prefixes and scope.contains(want)):
            out.append(row)
    return out


def write_upper_state(session: Session, upper_id: str, *, registered: bool, keepalive: bool = False,
                      error: str = "", at: datetime | None = None) -> None:
    """Keep what the running link last saw: registered or not, when, the last keepalive answered, the error."""
    row = session.get(GbUpper, upper_id)
    if row is None:
        return
    now = at or utcnow()
    if registered and (not keepalive or not row.registered):
        row.registered_at = now
    if keepalive:
        row.last_keepalive = now
    row.registered, row.last_error = registered, error[:200]


def _civil(code: str) -> str:
    """A GB civil code (at most 8 digits) for a Vigil region code (villages map to their town)."""
    return code[:8]


def _regions(session: Session, codes: set[str]) -> list[CatalogItem]:
    wanted, seen = set(codes), dict[str, Region]()
    while wanted:
        rows = session.scalars(select(Region).where(Region.code.in_(wanted - set(seen)))).all()
        wanted = set()
        for r in rows:
            seen[r.code] = r
            if r.parent_code and r.parent_code not in seen:
                wanted.add(r.parent_code)
    items = []
    for code, r in sorted(seen.items()):
        if len(code) > 8:
            continue
        parent = r.parent_code if r.parent_code and r.parent_code in seen else ""
        items.append(CatalogItem(code, name=r.name, civil_code=code, parent_id=parent, parental=True))
    return items


def _directories(session: Session, links: dict[str, GbChannel]) -> list[CatalogItem]:
    """The GB directory nodes above shared cameras (up to 6 levels), keeping their ParentID."""
    out: dict[str, CatalogItem] = {}
    frontier = {c.parent_id for c in links.values() if c.parent_id}
    for _ in range(6):
        if not frontier:
            break
        rows = session.scalars(select(GbChannel).where(GbChannel.channel_id.in_(frontier),
                                                       GbChannel.kind == "directory")).all()
        frontier = set()
        for r in rows:
            if r.channel_id not in out:
                out[r.channel_id] = CatalogItem(r.channel_id, name=r.name, civil_code=r.civil_code[:8],
                                                parent_id=r.parent_id, parental=True)
                frontier.add(r.parent_id)
    # a node whose parent is the device itself (not shown upward) hangs off its region instead
    return [d if d.parent_id in out else replace(d, parent_id=d.civil_code) for d in out.values()]


def _shared_cameras(session: Session, rules: ShareRules) -> list[Any]:
    """The shared cameras' columns the catalog needs (rows, not ORM objects: 20,000 of them are read at once)."""
    stmt = (select(Camera.id, Camera.name, Camera.region_code, Camera.kind, Camera.lifecycle, Camera.lon, Camera.lat,
                   Site.protection_class)
            .outerjoin(Site, Site.id == Camera.site_id)
            .where(Camera.lifecycle != Lifecycle.RETIRED.value, rules.scope().clause(Camera.region_code))
            .order_by(Camera.id))
    return [c for c in session.execute(stmt) if camera_shared(rules, c.id, c.region_code, c.kind, c.protection_class)]


def shared_count(session: Session, rules: ShareRules) -> int:
    """How many camera channels an upper platform with ``rules`` is shown."""
    return len(_shared_cameras(session, rules))


def shared_catalog(session: Session, rules: ShareRules, *, actor: str = "") -> list[CatalogItem]:
    """The catalog an upper platform may see: shared in-service cameras with their directory tree."""
    cams = _shared_cameras(session, rules)
    ids = [c.id for c in cams]
    links = {c.camera_id: c for c in session.scalars(select(GbChannel).where(
        GbChannel.camera_id.in_(ids))).all() if c.camera_id}
    down = set(session.scalars(select(CameraStatus.camera_id).where(CameraStatus.camera_id.in_(ids),
                                                                    CameraStatus.state == "down")).all())
    dirs = _directories(session, links)
    known = {d.device_id for d in dirs}
    items = _regions(session, {c.region_code for c in cams}) + dirs
    for c in cams:
        link = links.get(c.id)
        parent = link.parent_id if link is not None and link.parent_id in known else _civil(c.region_code)
        off = c.lifecycle != Lifecycle.IN_SERVICE.value or c.id in down or (link is not None and link.status == "OFF")
        items.append(CatalogItem(c.id, name=c.name, civil_code=_civil(c.region_code), parent_id=parent,
                                 status="OFF" if off else "ON",
                                 longitude=c.lon, latitude=c.lat))
    if actor:
        record(session, "gb28181", "gb.upper.catalog", actor, cameras=len(cams), items=len(items))
    return items


def catalog_changes(before: dict[str, CatalogItem], after: list[CatalogItem]) -> list[CatalogItem]:
    """What a catalog NOTIFY must say between two snapshots: ADD, DEL, ON, OFF or UPDATE per item."""
    now = {i.device_id: i for i in after}
    out = [replace(i, event="ADD") for k, i in now.items() if k not in before]
    out += [replace(i, event="DEL") for k, i in before.items() if k not in now]
    for k, i in now.items():
        old = before.get(k)
        if old is None or old == i:
            continue
        if replace(old, status=i.status) == i:
            out.append(replace(i, event="ON" if i.status == "ON" else "OFF"))
        else:
            out.append(replace(i, event="UPDATE"))
    return out
