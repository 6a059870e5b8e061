"""Where a region's figures come from: this instance's own cameras, or a child instance's, and how old that is.

A parent's dashboard rolls up the cameras of its children as if they were local. Beside each region
(the region asked for and each of its child regions) it shows the sources of those cameras: this
instance, or the chain of links down to the instance that owns them, with the age of the direct
child's last publication (everything below it reaches this instance through that child).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.access.users import Principal
from vigil.core.models import Camera, Region, utcnow
from vigil.federation.models import ChangeKind, FedLink, FedRemote
from vigil.registry.service import get_region

__all__ = ["RegionSources", "SourcePublic", "SourcesPublic", "region_sources"]


class SourcePublic(BaseModel):
    """One source of a region's cameras."""

    origin: str  # "" for this instance; else link names down to the owning instance
    link: str | None  # the direct child link ("" origin: none)
    cameras: int
    last_contact: datetime | None = None
    age_s: float | None = None  # seconds since the direct child last published (None: this instance, live)


class RegionSources(BaseModel):
    """A region and the sources of its cameras."""

    code: str
    name: str
    level: int
    cameras: int
    sources: list[SourcePublic]


class SourcesPublic(BaseModel):
    """The region asked for and each of its child regions in scope."""

    region: RegionSources
    children: list[RegionSources]


def region_sources(session: Session, p: Principal, region: str | None = None) -> SourcesPublic:
    """Sources of the cameras of ``region`` (default: the caller's first scope root) and of its children."""
    scope = p.scope
    if region is None:
        roots = scope.roots() or tuple(session.scalars(select(Region.code).where(Region.parent_code.is_(None))
                                                       .order_by(Region.code).limit(1)))
        region = roots[0] if roots else ""
    reg = get_region(session, p, region)
    kids = [r for r in session.scalars(select(Region).where(Region.parent_code == reg.code).order_by(Region.code))
            if scope.covers(r.code) or scope.is_ancestor_of_scope(r.code)]
    rows = session.execute(
        select(Camera.region_code, FedRemote.origin, FedLink.name, FedLink.last_contact, func.count())
        .outerjoin(FedRemote, (FedRemote.kind == ChangeKind.CAMERA) & (FedRemote.local_key == Camera.id))
        .outerjoin(FedLink, FedLink.id == FedRemote.link_id)
        .where(scope.narrowed(reg.code).clause(Camera.region_code))
        .group_by(Camera.region_code, FedRemote.origin, FedLink.name, FedLink.last_contact)).all()
    now = utcnow()
    acc: dict[str, dict[str, SourcePublic]] = {}
    for code, origin, link, contact, n in rows:
        key = origin or ""
        for row in [reg.code] + [k.code for k in kids if code.startswith(k.code)]:
            src = acc.setdefault(row, {}).get(key)
            if src is None:
                age = round((now - contact).total_seconds(), 1) if contact else None
                src = acc[row][key] = SourcePublic(origin=key, link=link, cameras=0, last_contact=contact, age_s=age)
            src.cameras += n

    def one(r: Region) -> RegionSources:
        srcs = sorted(acc.get(r.code, {}).values(), key=lambda s: (s.origin != "", s.origin))
        return RegionSources(code=r.code, name=r.name, level=r.level, cameras=sum(s.cameras for s in srcs),
                             sources=srcs)

    return SourcesPublic(region=one(reg), children=[one(k) for k in kids])
