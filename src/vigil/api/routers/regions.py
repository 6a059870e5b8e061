"""Regions: the four-level administrative tree."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from vigil.api.deps import CurrentPrincipal, SessionDep
from vigil.api.params import Offset, RegionCode
from vigil.api.public.registry import RegionNodePublic
from vigil.api.versioning import IfMatch, expected_versions, set_etag
from vigil.core.models import Region
from vigil.registry import service as svc
from vigil.registry.schemas import Page, RegionIn, RegionPatch, RegionPublic

router = APIRouter()


def region_json(r: Region) -> dict:
    """Public shape of a region."""
    return {"code": r.code, "name": r.name, "level": r.level, "parent_code": r.parent_code,
            "lon": r.lon, "lat": r.lat}


@router.get("", response_model=Page[RegionPublic])
def list_regions(p: CurrentPrincipal, session: SessionDep, parent: str | None = None, level: int | None = None,
                 q: str = "", limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 offset: Offset = 0) -> dict[str, Any]:
    """Search regions in scope."""
    items, total = svc.list_regions(session, p, parent=parent, level=level, q=q, limit=limit, offset=offset)
    return {"items": [region_json(r) for r in items], "total": total, "limit": limit, "offset": offset}


@router.get("/tree", response_model=list[RegionNodePublic])
def tree(p: CurrentPrincipal, session: SessionDep, root: str | None = None,
         depth: Annotated[int, Query(ge=0, le=4)] = 1) -> list[dict]:
    """The region tree below ``root`` (or the caller's scopes) with camera counts."""
    return svc.region_tree(session, p, root=root, depth=depth)


@router.get("/{code}", response_model=RegionPublic)
def get_region(code: RegionCode, p: CurrentPrincipal, session: SessionDep, response: Response) -> dict[str, Any]:
    """One region; its ETag is the version to send as If-Match."""
    r = svc.get_region(session, p, code)
    set_etag(response, session, r)
    return region_json(r)


@router.post("", status_code=201, response_model=RegionPublic)
def create_region(body: RegionIn, p: CurrentPrincipal, session: SessionDep) -> dict[str, Any]:
    """Add a region (admin)."""
    return region_json(svc.create_region(session, p, body))


@router.patch("/{code}", response_model=RegionPublic)
def update_region(code: RegionCode, body: RegionPatch, p: CurrentPrincipal, session: SessionDep, response: Response,
                  if_match: IfMatch = None) -> dict[str, Any]:
    """Rename or move a region (admin; with If-Match: only if it is still at that version, else 412)."""
    r = svc.update_region(session, p, code, body, versions=expected_versions(if_match))
    set_etag(response, session, r)
    return region_json(r)


@router.delete("/{code}", status_code=204)
def delete_region(code: RegionCode, p: CurrentPrincipal, session: SessionDep) -> None:
    """Delete an empty region (admin)."""
    svc.delete_region(session, p, code)
