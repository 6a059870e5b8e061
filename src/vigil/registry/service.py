"""Registry operations: create, read, update, delete and search, always within the caller's scope.

Every function takes the caller's :class:`~vigil.access.users.Principal` and asks the guard
(:mod:`vigil.access.guard`): objects outside its region subtrees are reported as not found.
Camera models are shared: they change only under :func:`~vigil.access.guard.check_shared_edit`.
Writes are audited.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import shapely
from shapely.geometry import shape
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope, check_permission, ensure_visible, get_in_scope
from vigil.access.users import Principal
from vigil.core.db import check_version
from vigil.core.errors import ConflictError, InputError, NotFoundError
from vigil.core.ids import level_of_code, parent_code
from vigil.core.models import Camera, CameraModel, Region, Site
from vigil.core.regions import in_subtree
from vigil.registry.schemas import ModelIn, RegionIn, RegionPatch, SiteIn, SitePatch

__all__ = [
    "create_model", "create_region", "create_site", "delete_region", "delete_site", "get_region",
    "get_site", "list_models", "list_regions", "model_users", "list_sites", "region_tree", "update_region", "update_site",
]

MAX_PAGE = 1000


def _page(limit: int, offset: int) -> tuple[int, int]:
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise InputError("offset must not be negative")
    return limit, offset


def _total(session: Session, stmt: Select[*tuple[Any, ...]]) -> int:
    """How many rows ``stmt`` matches, all pages together."""
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def _count_and_page(session: Session, stmt: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    return list(session.scalars(stmt.limit(limit).offset(offset))), _total(session, stmt)


# ----------------------------------------------------------------------------- regions
def list_regions(session: Session, p: Principal, *, parent: str | None = None, level: int | None = None,
                 q: str = "", limit: int = 100, offset: int = 0) -> tuple[list[Region], int]:
    """Regions visible to ``p``: its subtrees, plus their ancestors so the tree can be drawn."""
    limit, offset = _page(limit, offset)
    stmt = select(Region).where(p.scope.clause_or_ancestor(Region.code))
    if parent is not None:
        stmt = stmt.where(Region.parent_code == parent)
    if level is not None:
        stmt = stmt.where(Region.level == level)
    if q:
        stmt = stmt.where(or_(Region.name.contains(q), Region.code.startswith(q)))
    return _count_and_page(session, stmt.order_by(Region.code), limit, offset)


def get_region(session: Session, p: Principal, code: str) -> Region:
    """One region in scope."""
    r = session.get(Region, code)
    if r is None or not _shown(p.scope, code):
        raise NotFoundError(f"region {code} not found")
    return r


def _shown(scope: Scope, code: str) -> bool:
    """A region is shown if it is in scope or on the path down to a scope root."""
    return scope.covers(code) or scope.is_ancestor_of_scope(code)


def create_region(session: Session, p: Principal, data: RegionIn) -> Region:
    """Add a region under its implied parent, which must exist."""
    check_permission(p, "registry.write")
    parent = parent_code(data.code)
    ensure_visible(p, parent or data.code, "parent region")
    if parent and session.get(Region, parent) is None:
        raise InputError(f"parent region {parent} of {data.code} does not exist")
    if session.get(Region, data.code) is not None:
        raise ConflictError(f"region {data.code} already exists")
    r = Region(code=data.code, name=data.name, level=int(level_of_code(data.code)), parent_code=parent,
               lon=data.lon, lat=data.lat, outline=data.outline)
    session.add(r)
    record(session, p.name, "region.create", f"region:{data.code}", region=data.code, name=data.name,
           **_outline_note(data.outline, given=data.outline is not None))
    return r


def _outline_note(outline: dict[str, Any] | None, *, given: bool) -> dict[str, str]:
    """What the audit keeps of an outline change: its size, not its vertices (an outline may have thousands)."""
    if not given:
        return {}
    return {"outline": "cleared" if outline is None else f"{shapely.get_num_coordinates(shape(outline))} vertices"}


def update_region(session: Session, p: Principal, code: str, patch: RegionPatch, *,
                  versions: Collection[int] | None = None) -> Region:
    """Change a region's name or position (only from one of ``versions``, when given)."""
    check_permission(p, "registry.write")
    r = get_in_scope(session, Region, code, p, what=f"region {code}")
    check_version(r, versions, f"region {code}")
    changes = patch.model_dump(exclude_unset=True)
    for k, v in changes.items():
        setattr(r, k, v)
    outline = changes.pop("outline", None)
    record(session, p.name, "region.update", f"region:{code}", region=code, **changes,
           **_outline_note(outline, given="outline" in patch.model_fields_set))
    return r


def delete_region(session: Session, p: Principal, code: str) -> None:
    """Delete an empty region (no children, sites or cameras)."""
    check_permission(p, "registry.write")
    r = get_in_scope(session, Region, code, p, what=f"region {code}")
    for model, col in ((Region, Region.parent_code), (Site, Site.region_code), (Camera, Camera.region_code)):
        if session.scalar(select(func.count()).select_from(model).where(col == code)):
            raise ConflictError(f"region {code} is not empty ({model.__tablename__} refer to it)")
    session.delete(r)
    record(session, p.name, "region.delete", f"region:{code}", region=code)


def region_tree(session: Session, p: Principal, *, root: str | None = None, depth: int = 2) -> list[dict[str, Any]]:
    """Nested regions below ``root`` (or the caller's scope roots) with camera counts per subtree."""
    scope = p.scope
    if root:
        get_region(session, p, root)
    roots = [root] if root else _scope_roots(session, scope)
    out = []
    counts = dict(session.execute(
        select(Camera.region_code, func.count()).where(scope.clause(Camera.region_code))
        .group_by(Camera.region_code)).all())
    for code in roots:
        regions = session.scalars(select(Region).where(in_subtree(Region.code, code))
                                  .where(Region.level <= level_of_code(code) + depth)).all()
        parents = {p for p in session.scalars(select(Region.parent_code).where(in_subtree(Region.code, code))
                                              .where(Region.level == level_of_code(code) + depth + 1).distinct())
                   if p is not None}
        out.append(_nest(code, {r.code: r for r in regions}, counts, scope, parents))
    return out


def _scope_roots(session: Session, scope: Scope) -> list[str]:
    """Where a tree or rollup without a root starts: the scope roots, or the top-level regions for everything."""
    if scope.all_regions:
        return sorted(session.scalars(select(Region.code).where(Region.parent_code.is_(None))))
    return sorted(scope.roots())


def _nest(code: str, regions: dict[str, Region], counts: dict[str, int], scope: Scope,
          deeper: set[str]) -> dict[str, Any]:
    r = regions[code]
    kids = sorted((c for c, x in regions.items() if x.parent_code == code), key=str)
    visible_kids = [c for c in kids if _shown(scope, c)]
    total = sum(n for c, n in counts.items() if c.startswith(code) and scope.covers(c))
    return {"code": r.code, "name": r.name, "level": r.level, "cameras": total,
            "has_children": bool(visible_kids) or code in deeper,
            "children": [_nest(c, regions, counts, scope, deeper) for c in visible_kids]}


# ----------------------------------------------------------------------------- sites
def list_sites(session: Session, p: Principal, *, region: str | None = None, kind: str | None = None,
               q: str = "", limit: int = 100, offset: int = 0) -> tuple[list[Site], int]:
    """Sites in scope, filtered."""
    limit, offset = _page(limit, offset)
    stmt = select(Site).where(p.scope.clause(Site.region_code))
    if region:
        stmt = stmt.where(in_subtree(Site.region_code, region))
    if kind:
        stmt = stmt.where(Site.kind == kind)
    if q:
        stmt = stmt.where(Site.name.contains(q))
    return _count_and_page(session, stmt.order_by(Site.id), limit, offset)


def get_site(session: Session, p: Principal, site_id: int) -> Site:
    """One site in scope."""
    return get_in_scope(session, Site, site_id, p, what=f"site {site_id}")


def create_site(session: Session, p: Principal, data: SiteIn) -> Site:
    """Add a site in a region the caller can see."""
    check_permission(p, "registry.write")
    get_in_scope(session, Region, data.region_code, p, what=f"region {data.region_code}")
    s = Site(**data.model_dump(mode="json"))
    session.add(s)
    session.flush()
    record(session, p.name, "site.create", f"site:{s.id}", region=s.region_code, name=s.name)
    return s


def update_site(session: Session, p: Principal, site_id: int, patch: SitePatch, *,
                versions: Collection[int] | None = None) -> Site:
    """Change a site (only from one of ``versions``, when given)."""
    check_permission(p, "registry.write")
    s = get_site(session, p, site_id)
    check_version(s, versions, f"site {site_id}")
    changes = patch.model_dump(exclude_unset=True, mode="json")
    for k, v in changes.items():
        setattr(s, k, v)
    record(session, p.name, "site.update", f"site:{site_id}", region=s.region_code, fields=sorted(changes))
    return s


def delete_site(session: Session, p: Principal, site_id: int) -> None:
    """Delete a site that no camera refers to."""
    check_permission(p, "registry.write")
    s = get_site(session, p, site_id)
    if session.scalar(select(func.count()).select_from(Camera).where(Camera.site_id == site_id)):
        raise ConflictError(f"site {site_id} still has cameras")
    session.delete(s)
    record(session, p.name, "site.delete", f"site:{site_id}", region=s.region_code)


# ----------------------------------------------------------------------------- camera models
def list_models(session: Session) -> list[CameraModel]:
    """All camera models (a catalog, not scoped)."""
    return list(session.scalars(select(CameraModel).order_by(CameraModel.name)))


def model_users(session: Session) -> dict[int, set[str]]:
    """For each camera model in use, the regions of the cameras using it.

    These are the "users" of the shared object that :func:`~vigil.access.guard.check_shared_edit`
    weighs before a model may change.
    """
    out: dict[int, set[str]] = {}
    for mid, code in session.execute(select(Camera.model_id, Camera.region_code).distinct()):
        if mid is not None:
            out.setdefault(mid, set()).add(code)
    return out


def create_model(session: Session, p: Principal, data: ModelIn) -> CameraModel:
    """Add a camera model (a new model has no users yet, so any registry writer may add one)."""
    check_permission(p, "registry.write")
    if session.scalar(select(CameraModel.id).where(CameraModel.name == data.name)) is not None:
        raise ConflictError(f"camera model {data.name!r} already exists")
    m = CameraModel(**data.model_dump(mode="json"))
    session.add(m)
    session.flush()
    record(session, p.name, "model.create", f"model:{m.id}", name=m.name)
    return m


def _model_id(session: Session, name: str | None) -> int | None:
    if not name:
        return None
    mid = session.scalar(select(CameraModel.id).where(CameraModel.name == name))
    if mid is None:
        raise InputError(f"camera model {name!r} does not exist")
    return mid
