"""Regions: the four-level administrative tree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from vigil.api.deps import CurrentPrincipal, SessionDep
from vigil.core.models import Region
from vigil.registry import service as svc
from vigil.registry.schemas import RegionIn, RegionPatch

router = APIRouter()


def region_json(r: Region) -> dict:
    """Public shape of a region."""
    return {"code": r.code, "name": r.name, "level": r.level, "parent_code": r.parent_code,
            "lon": r.lon, "lat": r.lat}


@router.get("")
def list_regions(p: CurrentPrincipal, session: SessionDep, parent: str | None = None, level: int | None = None,
                 q: str = "", limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    """Search regions in scope."""
    items, total = svc.list_regions(session, p, parent=parent, level=level, q=q, limit=limit, offset=offset)
    return {"items": [region_json(r) for r in items], "total": total, "limit": limit, "offset": offset}


@router.get("/tree")
def tree(p: CurrentPrincipal, session: SessionDep, root: str | None = None,
         depth: Annotated[int, Query(ge=0, le=4)] = 1) -> list[dict]:
    """The region tree below ``root`` (or the caller's scopes) with camera counts."""
    return svc.region_tree(session, p, root=root, depth=depth)


@router.get("/{code}")
def get_region(code: str, p: CurrentPrincipal, session: SessionDep) -> dict:
    """One region."""
    return region_json(svc.get_region(session, p, code))


@router.post("", status_code=201)
def create_region(body: RegionIn, p: CurrentPrincipal, session: SessionDep) -> dict:
    """Add a region (admin)."""
    return region_json(svc.create_region(session, p, body))


@router.patch("/{code}")
def update_region(code: str, body: RegionPatch, p: CurrentPrincipal, session: SessionDep) -> dict:
    """Rename or move a region (admin)."""
    return region_json(svc.update_region(session, p, code, body))


@router.delete("/{code}", status_code=204)
def delete_region(code: str, p: CurrentPrincipal, session: SessionDep) -> None:
    """Delete an empty region (admin)."""
    svc.delete_region(session, p, code)
